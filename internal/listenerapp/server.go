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

package listenerapp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"

	"github.com/gpillon/kubevirt-wol/internal/netns"
)

// newServer builds the listener's HTTP endpoint. The listener uses the host
// network, so /metrics is reachable from the LAN: it is served over HTTPS
// (a self-signed certificate made at start-up) and only to callers whose
// bearer token the API server authenticates (TokenReview) and authorizes to
// get /metrics (SubjectAccessReview). /healthz and /readyz answer anyone,
// for the kubelet's probes, and disclose nothing but ok / not ready.
func (a *App) newServer(addr string) (*http.Server, error) {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{})
	if !a.opts.InsecureMetrics {
		// The reviews get a rate limit of their own: requests from the LAN
		// must not take the API budget of wakes.
		cfg := rest.CopyConfig(a.opts.RestConfig)
		cfg.QPS, cfg.Burst, cfg.RateLimiter = 5, 10, nil
		api, err := newKubeAPI(cfg, a.httpClient)
		if err != nil {
			return nil, err
		}
		metrics = newMetricsAuth(api, metrics, a.log.WithName("metrics"))
	}
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if a.Ready() {
			_, _ = w.Write([]byte("ok"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		msg := "not ready: waiting for the WolConfig, the sockets and the VM index"
		if l := a.current.Load(); l == nil || !l.Ready() {
			if err := a.bindErr.Load(); err != nil {
				msg = "not ready: " + (*err).Error()
			}
		}
		_, _ = w.Write([]byte(msg))
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if !a.opts.InsecureMetrics {
		host, _ := os.Hostname()
		certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("generating the metrics certificate: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"}, // no HTTP/2: rapid-reset CVEs
		}
	}
	return srv, nil
}

// serve runs srv until ctx is done.
func (a *App) serve(ctx context.Context, srv *http.Server) {
	var ln net.Listener
	err := netns.Run(a.opts.NetNS, func() (err error) {
		ln, err = net.Listen("tcp", srv.Addr)
		return err
	})
	if err != nil {
		a.log.Error(err, "Cannot serve metrics and probes", "address", srv.Addr)
		return
	}
	addr := ln.Addr().String()
	a.httpAddr.Store(&addr)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	a.log.Info("Serving metrics and probes", "address", ln.Addr().String(), "https", srv.TLSConfig != nil)
	if srv.TLSConfig != nil {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error(err, "Metrics server stopped")
	}
}
