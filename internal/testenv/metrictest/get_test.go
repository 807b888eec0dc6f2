/*
Copyright 2026 The kubevirt-wol Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package metrictest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGetSendsTheTokenAsABearerTokenOnlyWhenThereIsOne(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, ok := r.Header["Authorization"]
		switch {
		case !ok:
			w.WriteHeader(http.StatusUnauthorized)
		case len(auth) == 1 && auth[0] == "Bearer t0ken":
			_, _ = w.Write([]byte("wol_managed_vms 3\n"))
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		token    string
		code     int
		body     string
		vmsCount float64
	}{
		{"", http.StatusUnauthorized, "", 0},
		{"t0ken", http.StatusOK, "wol_managed_vms 3\n", 3},
		{"other", http.StatusForbidden, "", 0},
	} {
		code, body, err := Get(srv.Client(), srv.URL+"/metrics", tc.token)
		if err != nil {
			t.Fatalf("token %q: %v", tc.token, err)
		}
		if code != tc.code || body != tc.body || TextValue(body, "wol_managed_vms") != tc.vmsCount {
			t.Errorf("token %q: got %d %q, want %d %q", tc.token, code, body, tc.code, tc.body)
		}
	}
	if _, _, err := Get(srv.Client(), "http://127.0.0.1:0/", ""); err == nil {
		t.Error("Get of an address nothing listens on returned no error")
	}
}
