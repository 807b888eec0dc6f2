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

package vmstarter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kubevirtv1 "kubevirt.io/api/core/v1"
)

// A deadline that cuts a request short still says why the start kept
// failing: seen under load, a wake abandoned during virt-api's outage said
// only "context deadline exceeded".
func TestWithLastNamesTheLastTransientError(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	last := apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	cut := fmt.Errorf("Put \"https://127.0.0.1/apis/subresources.kubevirt.io\": %w", ctx.Err())

	got := (&attempt{ctx: ctx, lastErr: last}).withLast(cut)
	if !errors.Is(got, context.DeadlineExceeded) || !errors.Is(got, last) ||
		!strings.Contains(got.Error(), "unable to handle the request") {
		t.Errorf("withLast = %v; want the deadline and the last transient error", got)
	}
	for name, c := range map[string]struct {
		a   *attempt
		err error
	}{
		"no transient error before":   {&attempt{ctx: ctx}, cut},
		"not the context's error":     {&attempt{ctx: ctx, lastErr: last}, apierrors.NewForbidden(kubevirtv1.Resource("virtualmachines"), "x", errors.New("no"))},
		"the context has not expired": {&attempt{ctx: context.Background(), lastErr: last}, cut},
	} {
		if got := c.a.withLast(c.err); got != c.err { //nolint:errorlint // the same error, unwrapped
			t.Errorf("%s: withLast = %v; want %v unchanged", name, got, c.err)
		}
	}
}
