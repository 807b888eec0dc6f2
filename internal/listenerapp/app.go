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

// Package listenerapp is the listener process: it reads its WolConfig,
// keeps the MAC-to-VM index for that WolConfig's scope, runs the packet
// engine on the configured ports and starts VMs with the shared starter. It
// follows WolConfig changes without a restart: a new scope re-evaluates the
// index, new ports are bound and removed ones closed, other packet settings
// restart the packet engine in place, and the wake deadline and SecureOn
// password apply to the next wake.
//
// Each admitted wake gets a deadline (spec.wakeDeadlineSeconds after the
// packet was received): transient API errors are retried until then, and a
// wake still not done is abandoned, counted and logged. A VM that requires a
// SecureOn password (its own, or the WolConfig's) is started only by a packet
// carrying it; see docs/SECURITY.md.
package listenerapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	kubevirtv1 "kubevirt.io/api/core/v1"
	kvcorev1 "kubevirt.io/client-go/kubevirt/typed/core/v1"

	wolv1beta1 "github.com/gpillon/kubevirt-wol/api/v1beta1"
	"github.com/gpillon/kubevirt-wol/internal/netns"
	"github.com/gpillon/kubevirt-wol/pkg/receiver"
	"github.com/gpillon/kubevirt-wol/pkg/vmindex"
	"github.com/gpillon/kubevirt-wol/pkg/vmstarter"
	"github.com/gpillon/kubevirt-wol/pkg/wake"
)

// The listener reads its own WolConfig (narrowed to its name by the
// operator's ClusterRole), and checks the tokens of metrics scrapers.
// +kubebuilder:rbac:groups=wol.pillon.org,resources=wolconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// Options configure the listener process.
type Options struct {
	// WolConfig is the name of the WolConfig to serve.
	WolConfig string
	// NodeName names the node in events ("" if unknown).
	NodeName string
	// Namespace is the operator's namespace, where the listener runs and
	// where the Secret holding a WolConfig-wide SecureOn password is.
	Namespace string
	// RestConfig reaches the API server.
	RestConfig *rest.Config
	// MetricsAddr is the HTTPS address of /metrics, /healthz and /readyz
	// ("0" disables it).
	MetricsAddr string
	// InsecureMetrics serves plain HTTP without authentication (only for
	// local development; never on a node's network).
	InsecureMetrics bool
	// Registry collects the metrics; a new registry when nil.
	Registry *prometheus.Registry
	// NetNS, when set, is the path of a network namespace (such as
	// /run/netns/node-1) that stands for the node's host network: the
	// packet sockets and the metrics endpoint are opened there, as they are
	// on the host network in a pod, while API traffic stays in the process's
	// namespace. For tests and demos that simulate nodes and a LAN on one
	// machine; needs CAP_SYS_ADMIN.
	NetNS string
	// RetryBind is how long to wait before trying again to bind ports that
	// could not be bound (default 5s).
	RetryBind time.Duration
	// Starter tunes the VM starter (NodeName, Events, Registerer and Log
	// are set by Run).
	Starter vmstarter.Options
	// Log receives structured logs.
	Log logr.Logger
}

// App is a running listener process.
type App struct {
	opts Options
	// httpClient carries every API request of the process (one connection
	// pool for all of its clients).
	httpClient *http.Client
	log        logr.Logger
	reg        *prometheus.Registry
	index      *vmindex.Index
	watcher    *vmindex.Watcher
	starter    *vmstarter.Starter
	handler    *wake.Handler
	updates    chan *wolv1beta1.WolConfig
	current    atomic.Pointer[receiver.Receiver]
	bindErr    atomic.Pointer[error]
	haveSpec   atomic.Bool
	server     *http.Server
	httpAddr   atomic.Pointer[string]
}

// MetricsAddr is the address the HTTPS endpoint listens on, once it does.
func (a *App) MetricsAddr() string {
	if p := a.httpAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// New checks the options and builds the clients; Run does the work.
func New(opts Options) (*App, error) {
	if opts.WolConfig == "" {
		return nil, errors.New("listener: the WolConfig name is required (--wolconfig)")
	}
	if opts.RestConfig == nil {
		return nil, errors.New("listener: no API server configuration")
	}
	if opts.RetryBind == 0 {
		opts.RetryBind = 5 * time.Second
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	cfg := rest.CopyConfig(opts.RestConfig)
	// Each start costs a few requests; client-go's default of 5 per second
	// would throttle a burst of wakes long before the listener's own limits.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	opts.RestConfig = cfg
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("listener: API client: %w", err)
	}
	return &App{opts: opts, httpClient: httpClient, log: opts.Log, reg: reg, updates: make(chan *wolv1beta1.WolConfig, 1)}, nil
}

// Registry returns the registry the listener's metrics are on.
func (a *App) Registry() *prometheus.Registry { return a.reg }

// Ready reports whether every socket is bound and the VM index is synced.
func (a *App) Ready() bool {
	l := a.current.Load()
	return a.haveSpec.Load() && l != nil && l.Ready() && a.watcher != nil && a.watcher.HasSynced()
}

// Run serves until ctx is done.
func (a *App) Run(ctx context.Context) error {
	// Typed clients for exactly the APIs the listener uses, rather than
	// clientsets: see kubeAPI.
	kv, err := kvcorev1.NewForConfigAndClient(a.opts.RestConfig, a.httpClient)
	if err != nil {
		return fmt.Errorf("kubevirt client: %w", err)
	}
	kube, err := newKubeAPI(a.opts.RestConfig, a.httpClient)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()

	if a.opts.MetricsAddr != "0" && a.opts.MetricsAddr != "" {
		srv, err := a.newServer(a.opts.MetricsAddr)
		if err != nil {
			return err
		}
		a.server = srv
		wg.Go(func() { a.serve(ctx, srv) })
	}

	first, err := a.watchWolConfig(ctx, &wg)
	if err != nil {
		return err
	}

	scope, err := vmindex.ScopeFromSpec(first.Spec)
	if err != nil {
		return fmt.Errorf("WolConfig %s: %w", first.Name, err)
	}
	if a.index, err = vmindex.NewIndex(scope, a.reg); err != nil {
		return err
	}
	a.watcher = vmindex.NewWatcher(kv, a.index, a.log.WithName("vmindex"))
	wg.Go(func() {
		if err := a.watcher.Run(ctx); err != nil {
			a.log.Error(err, "VM index stopped")
			cancel()
		}
	})
	wg.Go(func() {
		// Decoding the initial list of VirtualMachines leaves garbage
		// several times the size of what the index keeps; hand it back to
		// the system once instead of keeping it as heap headroom.
		if a.watcher.WaitForSync(ctx) {
			debug.FreeOSMemory()
		}
	})

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(eventSink{kube})
	defer broadcaster.Shutdown()
	// The recorder finds the kind of an object it is given (a
	// VirtualMachine) in this scheme.
	scheme := runtime.NewScheme()
	if err := kubevirtv1.AddToScheme(scheme); err != nil {
		return err
	}
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "kubevirt-wol-listener", Host: a.opts.NodeName})

	so := a.opts.Starter
	so.NodeName, so.Events, so.Registerer, so.Log = a.opts.NodeName, recorder, a.reg, a.log.WithName("vmstarter")
	if a.starter, err = vmstarter.New(kv, so); err != nil {
		return err
	}
	if a.handler, err = wake.New(wake.Options{
		Resolver: a.index, Starter: a.starter, Secrets: kube.getSecret, Events: recorder,
		Namespace: a.opts.Namespace, Registerer: a.reg, Log: a.log.WithName("wake"),
	}); err != nil {
		return err
	}
	a.applyPolicy(first.Spec)
	a.haveSpec.Store(true)
	a.log.Info("Serving WolConfig", "wolconfig", first.Name, "mode", scope.Mode(), "ports", first.Spec.WolPorts)
	return a.servePackets(ctx, first)
}

// servePackets runs the packet engine for the latest spec and applies
// WolConfig updates until ctx is done.
func (a *App) servePackets(ctx context.Context, wc *wolv1beta1.WolConfig) error {
	cfg, err := ReceiverConfig(wc.Spec, a.log.WithName("listener"))
	if err != nil {
		return fmt.Errorf("WolConfig %s: %w", wc.Name, err)
	}
	for {
		l, err := receiver.New(cfg, a.handler, a.reg)
		if err != nil {
			return err
		}
		a.current.Store(l)
		lctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- netns.Run(a.opts.NetNS, func() error { return l.Run(lctx) }) }()
		// halt stops the packet engine and waits for it to return: nil
		// once it has served, an error if it failed before serving (entering
		// the network namespace, binding its sockets).
		halt := func() {
			stop()
			if err := <-done; err != nil {
				a.log.Error(err, "The packet engine failed while stopping")
			}
		}

		restart := false
		for !restart {
			select {
			case <-ctx.Done():
				halt()
				return nil
			case err := <-done:
				stop()
				if err == nil {
					return nil
				}
				// A port that cannot be bound (in use, no permission) keeps
				// the listener unready; try again later, it may be freed.
				a.bindErr.Store(&err)
				a.log.Error(err, "Cannot bind the listener's sockets; retrying", "in", a.opts.RetryBind)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(a.opts.RetryBind):
				case wc = <-a.updates:
					a.applyScope(wc)
					if next, err := ReceiverConfig(wc.Spec, a.log.WithName("listener")); err != nil {
						a.log.Error(err, "Ignoring the packet settings of an invalid WolConfig update")
					} else {
						cfg = next
					}
				}
				restart = true
			case wc = <-a.updates:
				a.applyScope(wc)
				next, err := ReceiverConfig(wc.Spec, a.log.WithName("listener"))
				switch {
				case err != nil:
					a.log.Error(err, "Ignoring the packet settings of an invalid WolConfig update")
				case changeOf(cfg, next) == ignore:
				case changeOf(cfg, next) == rebind:
					if err := netns.Run(a.opts.NetNS, func() error { return l.Reconfigure(next.Ports) }); err != nil {
						a.log.Error(err, "Cannot rebind the new ports; the previous ports stay bound")
					} else {
						a.log.Info("Ports changed", "ports", next.Ports)
						cfg = next
					}
				default:
					a.log.Info("Packet settings changed; restarting the packet engine")
					halt()
					cfg = next
					restart = true
				}
			}
		}
		stop()
	}
}

// applyPolicy gives the wake handler and the starter what spec says of
// every wake: its deadline, the WolConfig-wide SecureOn password, and
// whether VMs may be patched where KubeVirt's subresource API is missing.
func (a *App) applyPolicy(spec wolv1beta1.WolConfigSpec) {
	a.handler.SetPolicy(wake.PolicyOf(spec))
	api := vmstarter.APISubresource
	if spec.DirectPatchFallback {
		api = vmstarter.APIFallback
	}
	a.starter.SetAPI(api)
}

// applyScope gives the index the scope, and the wake handler the policy, of
// an updated WolConfig.
func (a *App) applyScope(wc *wolv1beta1.WolConfig) {
	a.applyPolicy(wc.Spec)
	scope, err := vmindex.ScopeFromSpec(wc.Spec)
	if err != nil {
		a.log.Error(err, "Ignoring a WolConfig update with an invalid scope")
		return
	}
	a.watcher.SetScope(scope)
	a.log.Info("Scope changed", "mode", scope.Mode(), "namespaces", scope.Namespaces())
}

// watchWolConfig starts an informer on the one WolConfig and returns it once
// it exists; later versions are sent to a.updates (only the latest kept).
func (a *App) watchWolConfig(ctx context.Context, wg *sync.WaitGroup) (*wolv1beta1.WolConfig, error) {
	rc, err := restClient(a.opts.RestConfig, a.httpClient, "/apis", wolv1beta1.GroupVersion, wolv1beta1.AddToScheme)
	if err != nil {
		return nil, fmt.Errorf("WolConfig client: %w", err)
	}
	// A plain informer on the one WolConfig (its RBAC is narrowed to its
	// name, so the list is by name too).
	inf := toolscache.NewSharedIndexInformer(
		toolscache.NewListWatchFromClient(rc, "wolconfigs", "", fields.OneTermEqualSelector("metadata.name", a.opts.WolConfig)),
		&wolv1beta1.WolConfig{}, 0, toolscache.Indexers{})
	var generation atomic.Int64
	var delivered atomic.Bool
	first := make(chan *wolv1beta1.WolConfig, 1)
	send := func(obj any) {
		wc, ok := obj.(*wolv1beta1.WolConfig)
		if !ok || wc.Name != a.opts.WolConfig {
			return
		}
		if prev := generation.Swap(wc.Generation); prev == wc.Generation {
			return // status or metadata only
		}
		if !delivered.Swap(true) {
			first <- wc
			return
		}
		select { // keep only the latest update
		case <-a.updates:
		default:
		}
		a.updates <- wc
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    send,
		UpdateFunc: func(_, obj any) { send(obj) },
		DeleteFunc: func(any) {
			a.log.Info("WolConfig deleted; serving its last version until this listener is removed", "wolconfig", a.opts.WolConfig)
		},
	}); err != nil {
		return nil, err
	}
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *toolscache.Reflector, err error) {
		a.log.Error(err, "WolConfig watch failed; retrying", "wolconfig", a.opts.WolConfig)
	})
	wg.Go(func() { inf.RunWithContext(ctx) })
	a.log.Info("Waiting for the WolConfig", "wolconfig", a.opts.WolConfig)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case wc := <-first:
		return wc, nil
	}
}
