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
	"fmt"
	"net/http"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
)

// kubeAPI is the listener's client for the few Kubernetes APIs it uses
// besides KubeVirt's: Secrets (SecureOn passwords), Events, TokenReviews and
// SubjectAccessReviews (metrics authentication). It is a REST client over a
// scheme of just those types. client-go's clientset — or any of its typed
// clients — would register every API group of Kubernetes at start-up and
// link them into the listener, most of its resident memory (see
// docs/performance.md, "Scale").
type kubeAPI struct {
	rc *rest.RESTClient
}

// kubeAPITimeout bounds the requests made without a caller's context (event
// writes, which client-go's event sink interface gives none).
const kubeAPITimeout = 30 * time.Second

// newKubeAPI builds a kubeAPI on cfg, sharing httpClient's connections; cfg's
// rate limit applies to it alone.
func newKubeAPI(cfg *rest.Config, httpClient *http.Client) (*kubeAPI, error) {
	rc, err := restClient(cfg, httpClient, "/api", schema.GroupVersion{Version: "v1"},
		corev1.AddToScheme, authnv1.AddToScheme, authzv1.AddToScheme)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &kubeAPI{rc: rc}, nil
}

// restClient builds a REST client for the API group version gv under
// apiPath ("/api" or "/apis") on cfg, sharing httpClient's connections, that
// encodes and decodes exactly the types the adders register.
func restClient(cfg *rest.Config, httpClient *http.Client, apiPath string, gv schema.GroupVersion,
	adders ...func(*runtime.Scheme) error) (*rest.RESTClient, error) {
	scheme := runtime.NewScheme()
	for _, add := range adders {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	c := rest.CopyConfig(cfg)
	c.APIPath = apiPath
	c.GroupVersion = &gv
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientForConfigAndClient(c, httpClient)
}

// getSecret reads one Secret.
func (k *kubeAPI) getSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	return s, k.rc.Get().Namespace(namespace).Resource("secrets").Name(name).Do(ctx).Into(s)
}

// reviewToken asks the API server who holds token.
func (k *kubeAPI) reviewToken(ctx context.Context, token string) (*authnv1.TokenReview, error) {
	in := &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}
	out := &authnv1.TokenReview{}
	return out, k.rc.Post().AbsPath("/apis/authentication.k8s.io/v1/tokenreviews").Body(in).Do(ctx).Into(out)
}

// reviewAccess asks the API server whether a user may do something.
func (k *kubeAPI) reviewAccess(ctx context.Context, in *authzv1.SubjectAccessReview) (*authzv1.SubjectAccessReview, error) {
	out := &authzv1.SubjectAccessReview{}
	return out, k.rc.Post().AbsPath("/apis/authorization.k8s.io/v1/subjectaccessreviews").Body(in).Do(ctx).Into(out)
}

// eventSink is kubeAPI as client-go's record.EventSink, which writes each
// event into its own namespace (as typedcorev1.EventSinkImpl does).
type eventSink struct{ k *kubeAPI }

var _ record.EventSink = eventSink{}

// Create implements record.EventSink.
func (s eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kubeAPITimeout)
	defer cancel()
	out := &corev1.Event{}
	return out, s.k.rc.Post().Namespace(e.Namespace).Resource("events").Body(e).Do(ctx).Into(out)
}

// Update implements record.EventSink.
func (s eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kubeAPITimeout)
	defer cancel()
	out := &corev1.Event{}
	return out, s.k.rc.Put().Namespace(e.Namespace).Resource("events").Name(e.Name).Body(e).Do(ctx).Into(out)
}

// Patch implements record.EventSink.
func (s eventSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kubeAPITimeout)
	defer cancel()
	out := &corev1.Event{}
	return out, s.k.rc.Patch(types.StrategicMergePatchType).Namespace(e.Namespace).Resource("events").Name(e.Name).
		Body(data).Do(ctx).Into(out)
}
