# kubevirt-wol Makefile. `make help` lists the targets.

# Image holding both the operator (manager) and the listener.
VERSION ?= 0.1.0
IMAGE_TAG_BASE ?= quay.io/kubevirt-wol/kubevirt-wol
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)

# Container tool for docker-* targets (docker or podman).
CONTAINER_TOOL ?= docker
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

GOOS ?= $(shell go env GOOS)
GOARCH ?= $(shell go env GOARCH)

GOBIN_LOCAL := $(shell pwd)/bin
export PATH := $(GOBIN_LOCAL):$(PATH)

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the WolConfig CRD, the operator's ClusterRole and the listener's three rule sets from the code's markers.
	$(CONTROLLER_GEN) crd paths="./api/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths="./..." output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) rbac:roleName=kubevirt-wol-listener paths="./internal/listenerapp/..." output:rbac:stdout > internal/listenerrbac/process.yaml
	$(CONTROLLER_GEN) rbac:roleName=kubevirt-wol-listener-vms paths="./pkg/vmindex/..." paths="./pkg/vmstarter" output:rbac:stdout > internal/listenerrbac/vms.yaml
	$(CONTROLLER_GEN) rbac:roleName=kubevirt-wol-listener-direct paths="./pkg/vmstarter/direct" output:rbac:stdout > internal/listenerrbac/direct.yaml

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods from the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: generated
generated: manifests generate dist ## Regenerate every generated file (hack/verify.sh checks they are committed).

.PHONY: fmt
fmt: ## Run go fmt against the code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against the code.
	go vet ./...

.PHONY: verify
verify: controller-gen kustomize golangci-lint operator-sdk opm ## Fail if generated files are stale, or gofmt, go vet, golangci-lint or the license-header check finds something.
	hack/verify.sh
	@mkdir -p $(TEST_REPORT) && echo "verify: generated files up to date; gofmt, go vet, golangci-lint and license headers clean" > $(TEST_REPORT)/verify.txt

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml: kubebuilder v4's configuration).
	$(GOLANGCI_LINT) run ./...

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can make itself.
	$(GOLANGCI_LINT) run --fix ./...

# Each suite's `go test -json` goes through hack/testreport, which shows it
# as `go test` would, says every minute what is still running, and records
# what ran and what was skipped in $(TEST_REPORT); `make test` ends with the
# summary of those records.
TEST_REPORT ?= .test-report
TESTREPORT ?= $(GOBIN_LOCAL)/testreport

.PHONY: test
test: test-preflight verify test-unit test-fuzz test-rules test-dist test-install test-e2e ## Everything CI checks: generated files, vet, gofmt, lint, unit and envtest suites (-race), short fuzz, alert rules (promtool), distribution artefacts, end-to-end with a real kubelet node; needs root (SKIP_PRIVILEGED=1 runs only the rest).
	@$(TESTREPORT) -summary $(TEST_REPORT)
	$(tools-summary)

.PHONY: test-preflight
test-preflight: $(TESTREPORT)
	@rm -rf $(TEST_REPORT) && mkdir -p $(TEST_REPORT)
	@hack/preflight.sh

$(TESTREPORT): $(wildcard hack/testreport/*.go)
	$(call announce,testreport,(hack/testreport),< 1 min)
	go build -o $@ ./hack/testreport

.PHONY: test-unit
test-unit: envtest-assets kwok $(TESTREPORT) ## Run the unit and envtest suites with -race (real kube-apiserver + etcd; real KubeVirt where VMs are started).
	@echo ">>> go test -race ./... (usually 6-10 min here; 'still running' lines every minute)"
	go test -race -json ./... -count=1 -timeout 30m | $(TESTREPORT) -record $(TEST_REPORT)/unit.json

# The end-to-end suite (test/e2e): a kwok cluster with real KubeVirt, a
# real kubelet node (containerd, runc, CNI from Debian) running the operator
# and one listener Deployment as real pods from the image of `make image`,
# simulated nodes for the rest, and a real Prometheus; then the demo's
# program (test/demo), as `make demo` runs it as root, with `make demo-down`.
.PHONY: test-e2e
test-e2e: build-bin kwok envtest-assets kustomize image node-assets prometheus-operator prometheus $(TESTREPORT) ## Run the end-to-end suite: a kwok cluster with real KubeVirt, a real kubelet node running the operator and a listener as real pods, real WoL senders, a real Prometheus (needs root and Debian containerd, runc, containernetworking-plugins).
	IMAGE_TAR=$(IMAGE_TAR) PAUSE_IMAGE_TAR=$(PAUSE_IMAGE_TAR) PAUSE_IMAGE=$(PAUSE_IMAGE) \
		go test -json -tags e2e ./test/e2e ./test/demo -p 1 -count=1 -timeout 20m | $(TESTREPORT) -record $(TEST_REPORT)/e2e.json

.PHONY: test-rules
test-rules: prometheus ## Check the alert rules and the dashboard's queries with promtool (bin/promtool, the e2e suite's Prometheus), and run the alerts' unit tests (test/monitoring).
	TEST_REPORT=$(TEST_REPORT) PROMTOOL=$(PROMTOOL) hack/test-rules.sh

FUZZTIME ?= 200000x
.PHONY: test-fuzz
test-fuzz: ## Run every fuzz target for FUZZTIME (default 200000x: executions each; a duration such as 1m works too).
	TEST_REPORT=$(TEST_REPORT) hack/fuzz.sh $(FUZZTIME)

##@ Demo

# As root with Debian's containerd, runc, CNI plugins, iptables and libc6-dev
# installed, the demo joins a real kubelet node and runs the operator and the
# listener there as real pods from the image; DEMO_NODE= turns that off.
DEMO_NODE ?= $(shell [ "$$(id -u)" = 0 ] && command -v containerd >/dev/null && command -v runc >/dev/null && \
	command -v iptables >/dev/null && [ -x /usr/lib/cni/bridge ] && [ -f "$$(gcc -print-file-name=libc.a)" ] && echo 1)

.PHONY: demo
demo: build-bin kwok kube-apiserver etcd kubevirt kustomize $(if $(DEMO_NODE),image node-assets) ## Run the whole product on a local kwok cluster with real KubeVirt (and, as root, a real kubelet node running the operator and the listener as pods) and wake a VM with a real magic packet.
	go build -o $(GOBIN_LOCAL)/demo ./hack/demo
	$(if $(DEMO_NODE),IMAGE_TAR=$(IMAGE_TAR) PAUSE_IMAGE_TAR=$(PAUSE_IMAGE_TAR) PAUSE_IMAGE=$(PAUSE_IMAGE)) $(GOBIN_LOCAL)/demo up
	$(tools-summary)

.PHONY: demo-down
demo-down: ## Stop the demo: its processes, cluster and network namespaces.
	go run ./hack/demo down

##@ Build

.PHONY: build
build: manifests generate fmt vet build-bin ## Regenerate, check and build the manager and listener binaries into bin/.

.PHONY: build-bin
build-bin: ## Build the static manager and listener binaries into bin/ (what the Dockerfile runs).
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) go build -trimpath -ldflags "-s -w" -o bin/manager ./cmd/manager
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) go build -trimpath -ldflags "-s -w" -o bin/listener ./cmd/listener

# `make run` runs the operator from this host as config/default's Deployment
# would run it: in config/default's namespace (applied from config/, with its
# Pod Security labels, if missing), giving listeners the image IMG, against
# the cluster of the current kubeconfig (KUBECONFIG or ~/.kube/config), with
# the CRDs installed first. Metrics and probes are off unless RUN_ARGS says
# otherwise (e.g. RUN_ARGS="--metrics-bind-address=:8443").
RUN_NAMESPACE ?= $(shell awk '$$1 == "namespace:" {print $$2; exit}' config/default/kustomization.yaml)
RUN_ARGS ?= --metrics-bind-address=0 --health-probe-bind-address=0

.PHONY: run
run: manifests generate fmt vet install ## Run the operator from your host against the current kubeconfig's cluster (namespace RUN_NAMESPACE from config/, listener image IMG).
	@echo ">>> make run: context $$($(KUBECTL) config current-context 2>/dev/null || echo '(none)'), namespace $(RUN_NAMESPACE), listener image $(IMG), flags $(RUN_ARGS)"
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -l pod-security.kubernetes.io/enforce -f -
	go run ./cmd/manager --namespace=$(RUN_NAMESPACE) --listener-image=$(IMG) $(RUN_ARGS)

.PHONY: docker-build
docker-build: ## Build the container image (IMG).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image (IMG).
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: docker-buildx
docker-buildx: ## Build and push the image for PLATFORMS with buildx.
	- $(CONTAINER_TOOL) buildx create --name kubevirt-wol-builder
	$(CONTAINER_TOOL) buildx use kubevirt-wol-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) --tag $(IMG) -f Dockerfile .
	- $(CONTAINER_TOOL) buildx rm kubevirt-wol-builder

# `make image` writes the image without Docker or a registry (hack/image, its
# own module, with go-containerregistry): the binaries of build-bin, at the
# Dockerfile's paths with its labels, user, working directory and entrypoint,
# on an empty base plus what distroless/static would give them (CA
# certificates, /etc/passwd and /etc/group with the nonroot user, /tmp).
# Fixed timestamps: the same binaries give the same digest. Load it with
# `ctr -n k8s.io images import`, `podman load -i` or `docker load -i`
# (IMAGE_FORMAT=docker for Docker before 25). test-dist holds it to the
# Dockerfile.
IMAGE_TAR ?= $(GOBIN_LOCAL)/kubevirt-wol-image.tar
IMAGE_FORMAT ?= oci
IMAGE_BUILDER := $(GOBIN_LOCAL)/image-builder

.PHONY: image
image: build-bin $(IMAGE_BUILDER) ## Write the image (IMG) for GOOS/GOARCH to IMAGE_TAR without Docker: an OCI archive for ctr/podman/docker load; prints its digest.
	$(IMAGE_BUILDER) -manager bin/manager -listener bin/listener -ref $(IMG) -version $(VERSION) \
		-platform $(GOOS)/$(GOARCH) -format $(IMAGE_FORMAT) -out $(IMAGE_TAR)

$(IMAGE_BUILDER): hack/image/go.mod $(filter-out %_test.go,$(wildcard hack/image/*.go))
	$(call announce,the image builder,(hack/image),< 1 min)
	cd hack/image && go build -o $@ .

.PHONY: build-installer
build-installer: manifests generate kustomize ## Write dist/install.yaml (CRD + operator) for IMG, without changing config/.
	mkdir -p dist
	IMG=$(IMG) KUSTOMIZE=$(KUSTOMIZE) hack/dist/kbuild.sh config/default > dist/install.yaml.tmp
	mv dist/install.yaml.tmp dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize kubectl ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize kubectl ## Remove the CRDs. ignore-not-found=true ignores missing objects.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize kubectl ## Deploy the operator (IMG) to the cluster of the current kubeconfig, without changing config/.
	IMG=$(IMG) KUSTOMIZE=$(KUSTOMIZE) hack/dist/kbuild.sh config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize kubectl ## Remove the operator. ignore-not-found=true ignores missing objects.
	IMG=$(IMG) KUSTOMIZE=$(KUSTOMIZE) hack/dist/kbuild.sh config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Tools
# Every tool is pinned by the go.mod of its folder under hack/tools and built
# into bin/ from the Go module proxy. A tool is rebuilt only when its go.mod
# (its pin) is newer than the binary.

# $(call announce,what,version,usual cold time): one line before each tool
# build (cold times measured on 2 busy cores: docs/TESTING.md, "Tool
# builds"). It also notes the tool in TOOL_BUILDS, so that `make test` and
# `make demo` end with one line naming what the run built and how long the
# whole run took ($(tools-summary)); with everything built they say nothing.
ifndef RUN_START
RUN_START := $(shell date +%s)
endif
export RUN_START
TOOL_BUILDS := $(GOBIN_LOCAL)/.built-$(RUN_START)
announce = @mkdir -p $(GOBIN_LOCAL) && echo '$(1)' >> $(TOOL_BUILDS) && \
	printf '\033[1m>>> building %s %s\033[0m (once, and again only when its pin changes; cold on 2 cores: %s)\n' '$(1)' '$(2)' '$(3)'
tools-summary = @if [ -s $(TOOL_BUILDS) ]; then t=$$(( $$(date +%s) - $(RUN_START) )); \
	printf '\033[1m>>> this run built %s (kept in bin/ for the next runs) and took %dm%02ds in all\033[0m\n' \
		"$$(paste -sd, $(TOOL_BUILDS) | sed 's/,/, /g')" $$((t / 60)) $$((t % 60)); fi; rm -f $(GOBIN_LOCAL)/.built-*
# $(call modver,tool,module): the version of module pinned in hack/tools/<tool>/go.mod.
modver = $(shell awk '$$1 != "//" {for (i = 1; i < NF; i++) if ($$i == "$(2)") {print $$(i+1); exit}}' hack/tools/$(1)/go.mod 2>/dev/null)

CONTROLLER_GEN ?= $(GOBIN_LOCAL)/controller-gen
KUSTOMIZE ?= $(GOBIN_LOCAL)/kustomize
KUBECTL ?= $(GOBIN_LOCAL)/kubectl
KUBE_APISERVER ?= $(GOBIN_LOCAL)/kube-apiserver
ETCD ?= $(GOBIN_LOCAL)/etcd
KWOKCTL ?= $(GOBIN_LOCAL)/kwokctl
GOLANGCI_LINT ?= $(GOBIN_LOCAL)/golangci-lint
GOLANGCI_LINT_VERSION := $(shell awk '$$1 == "github.com/golangci/golangci-lint/v2" {print $$2}' hack/tools/golangci-lint/go.mod 2>/dev/null)

KUBE_VERSION := $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "k8s.io/kubernetes") {print $$(i+1); exit}}' hack/tools/kube/go.mod 2>/dev/null)
KUBE_MAJOR := $(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION))))
KUBE_MINOR := $(word 2,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION))))
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=$(KUBE_MAJOR) -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR) -X k8s.io/component-base/version.gitTreeState=clean

.PHONY: tools
tools: controller-gen kustomize golangci-lint envtest-assets kwok kubevirt operator-sdk opm helm olm ## Build every tool into bin/.

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen.
$(CONTROLLER_GEN): hack/tools/controller-gen/go.mod
	$(call announce,controller-gen,$(call modver,controller-gen,sigs.k8s.io/controller-tools),< 1 min)
	cd hack/tools/controller-gen && go build -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint.
$(GOLANGCI_LINT): hack/tools/golangci-lint/go.mod
	$(call announce,golangci-lint,$(GOLANGCI_LINT_VERSION),≈ 1 min)
	cd hack/tools/golangci-lint && go build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Build kustomize.
$(KUSTOMIZE): hack/tools/kustomize/go.mod
	$(call announce,kustomize,$(call modver,kustomize,sigs.k8s.io/kustomize/kustomize/v5),< 1 min)
	cd hack/tools/kustomize && go build -o $@ sigs.k8s.io/kustomize/kustomize/v5

.PHONY: kubectl
kubectl: $(KUBECTL) ## Build kubectl.
$(KUBECTL): hack/tools/kube/go.mod
	$(call announce,kubectl,$(KUBE_VERSION),≈ 5 min as the first Kubernetes binary built and ≤ 1.5 min after one)
	cd hack/tools/kube && go build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kubectl

.PHONY: kube-apiserver
kube-apiserver: $(KUBE_APISERVER) ## Build kube-apiserver.
$(KUBE_APISERVER): hack/tools/kube/go.mod
	$(call announce,kube-apiserver,$(KUBE_VERSION),≈ 5 min as the first Kubernetes binary built and ≤ 1.5 min after one)
	cd hack/tools/kube && go build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(GOBIN_LOCAL)/kube-controller-manager: hack/tools/kube/go.mod
	$(call announce,kube-controller-manager,$(KUBE_VERSION),≈ 5 min as the first Kubernetes binary built and ≤ 1.5 min after one)
	cd hack/tools/kube && go build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-controller-manager

$(GOBIN_LOCAL)/kube-scheduler: hack/tools/kube/go.mod
	$(call announce,kube-scheduler,$(KUBE_VERSION),≈ 5 min as the first Kubernetes binary built and ≤ 1.5 min after one)
	cd hack/tools/kube && go build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-scheduler

# kubelet and kube-proxy for the real node of the e2e suite and of `make
# demo` as root (internal/testenv/node: Debian containerd, runc and CNI
# plugins run the operator's and the listener's pods), and the node's pod
# sandbox image:
# Kubernetes' own build/pause/linux/pause.c from the same module, compiled
# statically, as /pause in an image written by hack/image.
KUBELET ?= $(GOBIN_LOCAL)/kubelet
KUBE_PROXY ?= $(GOBIN_LOCAL)/kube-proxy
PAUSE_IMAGE_TAR ?= $(GOBIN_LOCAL)/pause-image.tar
PAUSE_IMAGE ?= registry.k8s.io/pause:kubevirt-wol-$(KUBE_VERSION)

.PHONY: node-assets
node-assets: $(KUBELET) $(KUBE_PROXY) $(PAUSE_IMAGE_TAR) ## Build kubelet, kube-proxy and the pod sandbox image of the real node.
$(KUBELET): hack/tools/kube/go.mod
	$(call announce,kubelet,$(KUBE_VERSION),≈ 5 min as the first Kubernetes binary built and ≤ 1.5 min after one)
	cd hack/tools/kube && go build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kubelet
$(KUBE_PROXY): hack/tools/kube/go.mod
	$(call announce,kube-proxy,$(KUBE_VERSION),≈ 5 min as the first Kubernetes binary built and ≤ 1.5 min after one)
	cd hack/tools/kube && go build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-proxy
$(PAUSE_IMAGE_TAR): hack/tools/kube/go.mod $(IMAGE_BUILDER)
	cd hack/tools/kube && gcc -Os -static -Wall -DVERSION=$(KUBE_VERSION) -o $(GOBIN_LOCAL)/pause \
		"$$(go mod download -json k8s.io/kubernetes | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/build/pause/linux/pause.c"
	$(IMAGE_BUILDER) -pause $(GOBIN_LOCAL)/pause -ref $(PAUSE_IMAGE) -platform $(GOOS)/$(GOARCH) -out $@

.PHONY: etcd
etcd: $(ETCD) ## Build etcd.
$(ETCD): hack/tools/etcd/go.mod hack/tools/etcd/main.go
	$(call announce,etcd,$(call modver,etcd,go.etcd.io/etcd/server/v3),< 1 min)
	cd hack/tools/etcd && go build -ldflags "-s -w" -o $@ .

.PHONY: kwok
kwok: $(KWOKCTL) $(GOBIN_LOCAL)/kube-controller-manager $(GOBIN_LOCAL)/kube-scheduler $(KUBECTL) ## Build kwok, kwokctl and the rest of a local control plane.
$(KWOKCTL): hack/tools/kwok/go.mod
	$(call announce,kwok and kwokctl,$(call modver,kwok,sigs.k8s.io/kwok),≈ 1.5 min)
	cd hack/tools/kwok && go build -o $(GOBIN_LOCAL)/ sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl

# CRDs the tests install besides the project's own: KubeVirt's, as KubeVirt's
# own install strategy generates them (`make kubevirt`); OpenShift's
# SecurityContextConstraints and the Prometheus Operator's ServiceMonitor and
# PrometheusRule (envtest suites) and all of its CRDs (bin/crds/prometheus-operator, the
# e2e suite), linked from the CRD manifests their Go modules ship, of the
# Prometheus Operator version the e2e suite runs.
TEST_CRDS := $(GOBIN_LOCAL)/crds
PROMETHEUS_OPERATOR_VERSION := $(shell awk '$$1 == "github.com/prometheus-operator/prometheus-operator" {print $$2; exit}' hack/tools/prometheus-operator/go.mod 2>/dev/null)
PROMETHEUS_OPERATOR_CRDS_VERSION ?= $(PROMETHEUS_OPERATOR_VERSION)

.PHONY: envtest-assets
envtest-assets: $(KUBE_APISERVER) $(ETCD) $(KUBECTL) test-crds kubevirt ## Build kube-apiserver, etcd, kubectl, KubeVirt and the test CRDs.

.PHONY: test-crds
test-crds: $(TEST_CRDS)/.stamp ## Link the third-party CRDs the tests install (KubeVirt's come with `make kubevirt`).

# Real KubeVirt for the tests, `make demo` and `make bench`: virt-api and
# virt-controller built from kubevirt.io/kubevirt (pinned in
# hack/tools/kubevirt/go.mod, its own module: KubeVirt pins its own
# Kubernetes libraries), and bin/kubevirt/{crds/,manifests.json}, the objects
# KubeVirt's install strategy creates, written by a small program of that
# module. See docs/TESTING.md, "Real KubeVirt".
KUBEVIRT_VERSION := $(shell awk '$$1 == "kubevirt.io/kubevirt" {print $$2; exit}' hack/tools/kubevirt/go.mod 2>/dev/null)
KUBEVIRT_DIR := $(GOBIN_LOCAL)/kubevirt

.PHONY: kubevirt
kubevirt: $(GOBIN_LOCAL)/virt-api $(GOBIN_LOCAL)/virt-controller $(KUBEVIRT_DIR)/manifests.json ## Build KubeVirt's virt-api and virt-controller and write the objects KubeVirt installs.
$(GOBIN_LOCAL)/virt-api $(GOBIN_LOCAL)/virt-controller &: hack/tools/kubevirt/go.mod
	$(call announce,KubeVirt virt-api and virt-controller,$(KUBEVIRT_VERSION),≈ 2.5 min)
	cd hack/tools/kubevirt && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
		-X kubevirt.io/client-go/version.gitVersion=$(KUBEVIRT_VERSION) -X kubevirt.io/client-go/version.gitTreeState=clean" \
		-o $(GOBIN_LOCAL)/ kubevirt.io/kubevirt/cmd/virt-api kubevirt.io/kubevirt/cmd/virt-controller
	touch $(GOBIN_LOCAL)/virt-api $(GOBIN_LOCAL)/virt-controller
$(KUBEVIRT_DIR)/manifests.json: hack/tools/kubevirt/go.mod hack/tools/kubevirt/manifests/main.go
	$(call announce,the KubeVirt CRDs and install objects,$(KUBEVIRT_VERSION),≈ 1.5 min)
	mkdir -p $(KUBEVIRT_DIR)
	cd hack/tools/kubevirt && go run ./manifests -out $(KUBEVIRT_DIR) -version $(KUBEVIRT_VERSION) 2>/dev/null

$(TEST_CRDS)/.stamp: go.mod Makefile hack/tools/prometheus-operator/go.mod
	mkdir -p $(TEST_CRDS)/openshift $(TEST_CRDS)/monitoring $(TEST_CRDS)/prometheus-operator
	ln -sf "$$(go mod download -json github.com/openshift/api | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/security/v1/zz_generated.crd-manifests/0000_03_config-operator_01_securitycontextconstraints.crd.yaml" $(TEST_CRDS)/openshift/securitycontextconstraints.yaml
	dir="$$(go mod download -json github.com/prometheus-operator/prometheus-operator@$(PROMETHEUS_OPERATOR_CRDS_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/example/prometheus-operator-crd" && \
		ln -sf "$$dir/monitoring.coreos.com_servicemonitors.yaml" $(TEST_CRDS)/monitoring/servicemonitors.yaml && \
		ln -sf "$$dir/monitoring.coreos.com_prometheusrules.yaml" $(TEST_CRDS)/monitoring/prometheusrules.yaml && \
		for f in "$$dir"/monitoring.coreos.com_*.yaml; do ln -sf "$$f" $(TEST_CRDS)/prometheus-operator/; done
	test -s $(TEST_CRDS)/openshift/securitycontextconstraints.yaml
	test -s $(TEST_CRDS)/monitoring/servicemonitors.yaml
	test -s $(TEST_CRDS)/monitoring/prometheusrules.yaml
	test -s $(TEST_CRDS)/prometheus-operator/monitoring.coreos.com_prometheuses.yaml
	touch $@

# A real scrape for the e2e suite: the Prometheus Operator (cmd/operator of
# the module pinned in hack/tools/prometheus-operator) and Prometheus and
# promtool (hack/tools/prometheus; Debian's prometheus package has no
# Kubernetes service discovery, see docs/TESTING.md, "A real scrape"). The
# Prometheus module's v0.3XY.Z is Prometheus v3.XY.Z.
PROMETHEUS_OPERATOR ?= $(GOBIN_LOCAL)/prometheus-operator
PROMETHEUS ?= $(GOBIN_LOCAL)/prometheus
PROMTOOL ?= $(GOBIN_LOCAL)/promtool
PROMETHEUS_MODULE_VERSION := $(shell awk '$$1 == "github.com/prometheus/prometheus" {print $$2; exit}' hack/tools/prometheus/go.mod 2>/dev/null)
PROMETHEUS_VERSION := $(shell echo '$(PROMETHEUS_MODULE_VERSION)' | awk -F. '{printf "%d.%d.%s", $$2 / 100, $$2 % 100, $$3}')

.PHONY: prometheus-operator
prometheus-operator: $(PROMETHEUS_OPERATOR) ## Build the Prometheus Operator (the e2e suite runs it against its cluster).
$(PROMETHEUS_OPERATOR): hack/tools/prometheus-operator/go.mod
	$(call announce,the Prometheus Operator,$(PROMETHEUS_OPERATOR_VERSION),≈ 1 min)
	cd hack/tools/prometheus-operator && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
		-X github.com/prometheus/common/version.Version=$(patsubst v%,%,$(PROMETHEUS_OPERATOR_VERSION)) -X github.com/prometheus/common/version.Branch=HEAD" \
		-o $@ github.com/prometheus-operator/prometheus-operator/cmd/operator

.PHONY: prometheus
prometheus: $(PROMETHEUS) $(PROMTOOL) ## Build Prometheus and promtool (the e2e suite's real Prometheus; promtool for the rule tests).
$(PROMETHEUS) $(PROMTOOL) &: hack/tools/prometheus/go.mod
	$(call announce,Prometheus and promtool,v$(PROMETHEUS_VERSION),≈ 3 min)
	cd hack/tools/prometheus && CGO_ENABLED=0 go build -trimpath -tags netgo -ldflags "-s -w \
		-X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION) -X github.com/prometheus/common/version.Branch=HEAD" \
		-o $(GOBIN_LOCAL)/ github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
	touch $(PROMETHEUS) $(PROMTOOL)

##@ Distribution
# The OLM bundle, the file-based catalog, the Helm chart and dist/install.yaml
# are all generated from config/ (one source of truth) and checked by
# `make test-dist`. See docs/RELEASING.md. dist/monitoring (alerts and
# dashboard) comes from internal/controller's alerts and hack/dist/monitoring.

# Channels the bundle is published to and the default one.
CHANNELS ?= stable
DEFAULT_CHANNEL ?= stable
BUNDLE_CHANNELS := --channels=$(CHANNELS)
BUNDLE_DEFAULT_CHANNEL := --default-channel=$(DEFAULT_CHANNEL)
BUNDLE_METADATA_OPTS ?= $(BUNDLE_CHANNELS) $(BUNDLE_DEFAULT_CHANNEL)
# Set USE_IMAGE_DIGESTS=true to pin every image in the CSV by digest (needs
# registry access; releases do it, the offline checks do not).
USE_IMAGE_DIGESTS ?= false
BUNDLE_GEN_FLAGS ?= -q --overwrite --version $(VERSION) $(BUNDLE_METADATA_OPTS)
ifeq ($(USE_IMAGE_DIGESTS), true)
	BUNDLE_GEN_FLAGS += --use-image-digests
endif

BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
CATALOG_IMG ?= $(IMAGE_TAG_BASE)-catalog:v$(VERSION)

OPERATOR_SDK ?= $(GOBIN_LOCAL)/operator-sdk
OPM ?= $(GOBIN_LOCAL)/opm
HELM ?= $(GOBIN_LOCAL)/helm

OPERATOR_SDK_VERSION := $(shell awk '$$1 == "github.com/operator-framework/operator-sdk" {print $$2; exit}' hack/tools/operator-sdk/go.mod 2>/dev/null)
OPM_VERSION := $(shell awk '$$1 == "github.com/operator-framework/operator-registry" {print $$2; exit}' hack/tools/opm/go.mod 2>/dev/null)
HELM_VERSION := $(shell awk '$$1 == "helm.sh/helm/v3" {print $$2; exit}' hack/tools/helm/go.mod 2>/dev/null)
HELM_K8S_MINOR := $(word 2,$(subst ., ,$(shell awk '$$1 == "k8s.io/client-go" {print $$2; exit}' hack/tools/helm/go.mod 2>/dev/null)))
OPERATOR_SDK_K8S_VERSION := $(patsubst v0.%,v1.%,$(shell awk '$$1 == "k8s.io/client-go" {print $$2; exit}' hack/tools/operator-sdk/go.mod 2>/dev/null))

.PHONY: operator-sdk
operator-sdk: $(OPERATOR_SDK) ## Build operator-sdk.
$(OPERATOR_SDK): hack/tools/operator-sdk/go.mod
	$(call announce,operator-sdk,$(OPERATOR_SDK_VERSION),≈ 3.5 min)
	cd hack/tools/operator-sdk && go build -tags=containers_image_openpgp -ldflags "-s -w \
		-X github.com/operator-framework/operator-sdk/internal/version.Version=$(OPERATOR_SDK_VERSION) \
		-X github.com/operator-framework/operator-sdk/internal/version.GitVersion=$(OPERATOR_SDK_VERSION) \
		-X github.com/operator-framework/operator-sdk/internal/version.ImageVersion=$(OPERATOR_SDK_VERSION) \
		-X github.com/operator-framework/operator-sdk/internal/version.KubernetesVersion=$(OPERATOR_SDK_K8S_VERSION)" \
		-o $@ github.com/operator-framework/operator-sdk/cmd/operator-sdk

# Built without cgo: the SQLite-based index commands then fail, but render,
# validate and generate dockerfile (all this project uses) work, and no C
# compiler is needed.
.PHONY: opm
opm: $(OPM) ## Build opm.
$(OPM): hack/tools/opm/go.mod
	$(call announce,opm,$(OPM_VERSION),≈ 2 min)
	cd hack/tools/opm && CGO_ENABLED=0 go build -tags=json1,containers_image_openpgp -ldflags "-s -w \
		-X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=$(OPM_VERSION)" \
		-o $@ github.com/operator-framework/operator-registry/cmd/opm

# Operator Lifecycle Manager v0 for the install tests (test/install): its
# olm and catalog operators, run as local processes against the test cluster,
# and the CRDs of operator-framework/api at the same release.
OLM_VERSION := $(shell awk '$$1 == "github.com/operator-framework/operator-lifecycle-manager" {print $$2; exit}' hack/tools/olm/go.mod 2>/dev/null)
OLM_DIR := $(GOBIN_LOCAL)/olm

.PHONY: olm
olm: $(OLM_DIR)/olm $(OLM_DIR)/crds.stamp ## Build OLM's olm and catalog operators and link OLM's CRDs.
$(OLM_DIR)/olm $(OLM_DIR)/catalog &: hack/tools/olm/go.mod
	$(call announce,OLM olm and catalog,$(OLM_VERSION),≈ 1.5 min)
	mkdir -p $(OLM_DIR)
	cd hack/tools/olm && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w \
		-X github.com/operator-framework/operator-lifecycle-manager/pkg/version.OLMVersion=$(OLM_VERSION)" \
		-o $(OLM_DIR)/ github.com/operator-framework/operator-lifecycle-manager/cmd/olm github.com/operator-framework/operator-lifecycle-manager/cmd/catalog
	touch $(OLM_DIR)/olm $(OLM_DIR)/catalog
$(OLM_DIR)/crds.stamp: hack/tools/olm/go.mod
	mkdir -p $(OLM_DIR)
	ln -sfn "$$(cd hack/tools/olm && go mod download -json github.com/operator-framework/api | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/crds" $(OLM_DIR)/crds
	test -s $(OLM_DIR)/crds/operators.coreos.com_clusterserviceversions.yaml
	touch $@

.PHONY: helm
helm: $(HELM) ## Build helm.
$(HELM): hack/tools/helm/go.mod
	$(call announce,helm,$(HELM_VERSION),≈ 2.5 min)
	cd hack/tools/helm && go build -ldflags "-s -w \
		-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
		-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
		-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM_K8S_MINOR) \
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
		-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM_K8S_MINOR)" \
		-o $@ helm.sh/helm/v3/cmd/helm

BUNDLE_DIR ?= bundle
CATALOG_DIR ?= catalog
CHART_DIR ?= dist/chart
OPM_IMG ?= quay.io/operator-framework/opm:$(OPM_VERSION)
PACKAGE_ICON := config/manifests/bases/kubevirt-wol.svg
PACKAGE_DESCRIPTION := Wake-on-LAN for KubeVirt VirtualMachines: a magic packet on the LAN starts the VM it names.

.PHONY: dist
dist: monitoring bundle-generate catalog chart build-installer ## Regenerate everything users install: bundle/, catalog/, dist/chart, dist/install.yaml and dist/monitoring.

.PHONY: bundle
bundle: bundle-generate bundle-validate ## Generate the OLM bundle for VERSION and IMG (bundle/, bundle.Dockerfile) from config/ and validate it.

.PHONY: bundle-generate
bundle-generate: manifests kustomize operator-sdk ## Generate the OLM bundle into BUNDLE_DIR without changing config/ (createdAt kept when nothing else changed).
	VERSION=$(VERSION) IMG=$(IMG) BUNDLE_DIR=$(BUNDLE_DIR) BUNDLE_GEN_FLAGS="$(BUNDLE_GEN_FLAGS)" \
		KUSTOMIZE=$(KUSTOMIZE) OPERATOR_SDK=$(OPERATOR_SDK) USE_IMAGE_DIGESTS=$(USE_IMAGE_DIGESTS) \
		BUNDLE_DOCKERFILE=$(if $(filter bundle,$(BUNDLE_DIR)),bundle.Dockerfile) hack/dist/bundle.sh

.PHONY: bundle-validate
bundle-validate: operator-sdk ## Validate BUNDLE_DIR with the operatorframework suite (warnings: docs/olm-validation.md).
	$(OPERATOR_SDK) bundle validate $(BUNDLE_DIR) --select-optional suite=operatorframework

.PHONY: bundle-build
bundle-build: ## Build the bundle image (BUNDLE_IMG).
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image (BUNDLE_IMG).
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

# The catalog's bundle entries are rendered from the bundle directory (no
# image pull: the image reference is BUNDLE_IMG) in the olm.csv.metadata
# form that OpenShift 4.17 and later require. With CATALOG_RENDER_FLAGS=
# (empty) the bundle goes in with its manifests inline and no image: the
# catalog test/install serves to a real OLM (which could not pull an image).
CATALOG_RENDER_FLAGS ?= --alpha-image-ref-template $(BUNDLE_IMG) --migrate-level bundle-object-to-csv-metadata
.PHONY: catalog
catalog: bundle-generate catalog-add ## Generate the bundle into BUNDLE_DIR and add it to the file-based catalog in CATALOG_DIR as the head of CHANNELS.

.PHONY: catalog-add
catalog-add: opm ## Add the bundle in BUNDLE_DIR, as it is, to the catalog in CATALOG_DIR as the head of CHANNELS, and validate it.
	$(OPM) render $(BUNDLE_DIR) $(CATALOG_RENDER_FLAGS) -o yaml \
		| go run ./hack/dist/fbc -catalog $(CATALOG_DIR) -bundle - -channels $(CHANNELS) -default-channel $(DEFAULT_CHANNEL) \
			-icon $(PACKAGE_ICON) -description "$(PACKAGE_DESCRIPTION)"
	$(OPM) validate $(CATALOG_DIR)
	if [ "$(CATALOG_DIR)" = catalog ]; then rm -f catalog.Dockerfile && $(OPM) generate dockerfile catalog -b $(OPM_IMG) -i $(OPM_IMG); fi

.PHONY: catalog-validate
catalog-validate: opm ## Validate the file-based catalog in CATALOG_DIR.
	$(OPM) validate $(CATALOG_DIR)

.PHONY: catalog-build
catalog-build: ## Build the catalog image (CATALOG_IMG) from catalog/; the bundle images it names must be pushed.
	$(CONTAINER_TOOL) build -f catalog.Dockerfile -t $(CATALOG_IMG) .

.PHONY: catalog-push
catalog-push: ## Push the catalog image (CATALOG_IMG).
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

.PHONY: monitoring
monitoring: ## Write the listener alerts (dist/monitoring/prometheus-rules.yaml, config/alerts) and the dashboard (dist/monitoring: Grafana JSON, OpenShift ConfigMap).
	go run ./hack/dist/monitoring

.PHONY: chart
chart: manifests kustomize monitoring ## Generate the Helm chart (dist/chart) for VERSION and IMG from config/.
	IMG=$(IMG) KUSTOMIZE=$(KUSTOMIZE) hack/dist/kbuild.sh hack/chart | go run ./hack/dist/chartgen -out $(CHART_DIR) -version $(VERSION)

.PHONY: chart-lint
chart-lint: helm ## helm lint --strict the chart, with the default values and with everything on.
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) $(CHART_DIR)
	$(HELM) lint --strict --kube-version $(KUBE_VERSION) $(CHART_DIR) -f test/distribution/testdata/everything-on.values.yaml

.PHONY: test-dist
test-dist: envtest-assets kwok kustomize operator-sdk opm helm image $(TESTREPORT) ## Validate the bundle, catalog (and its next release), chart and install.yaml with operator-sdk, opm, helm and a real API server; make run and make deploy on a kwok cluster; the image against the Dockerfile.
	go test -json -tags distribution ./test/distribution/... -count=1 -timeout 20m | $(TESTREPORT) -record $(TEST_REPORT)/dist.json
	cd hack/image && IMAGE_TAR=$(IMAGE_TAR) go test -json ./... -count=1 | $(TESTREPORT) -record $(abspath $(TEST_REPORT))/image.json

.PHONY: test-install
test-install: build-bin kwok envtest-assets kustomize operator-sdk opm helm olm $(TESTREPORT) ## Install and upgrade the operator as users do, on a kwok cluster with real KubeVirt: real OLM (catalog, Subscription, channel upgrade), helm and kubectl.
	go test -json -tags install ./test/install -count=1 -timeout 25m | $(TESTREPORT) -record $(TEST_REPORT)/install.json

.PHONY: release
release: kustomize ## Prepare release VERSION (make release VERSION=x.y.z): set it here, in config/manager, docs/olm and the Dockerfile label; regenerate bundle, catalog, chart, install.yaml.
	@test "$(origin VERSION)" = "command line" || { echo "usage: make release VERSION=x.y.z" >&2; exit 1; }
	sed -i 's/^VERSION ?= .*/VERSION ?= $(VERSION)/' Makefile
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	sed -i 's|image: $(IMAGE_TAG_BASE)-catalog:.*|image: $(CATALOG_IMG)|' docs/olm/catalogsource.yaml
	sed -i 's|^ARG VERSION=.*|ARG VERSION=$(VERSION)|' Dockerfile
	$(MAKE) --no-print-directory generated

##@ Benchmarks
# Not part of `make test`: each figure is measured next to its baseline in
# the same run and written to docs/performance.md (see that file). Needs
# root (network namespaces, CPU pinning); takes about 7 minutes on 2 vCPUs.

.PHONY: bench
bench: build-bin envtest-assets ## Run the benchmarks with their baselines and write the table in docs/performance.md (raw output in bin/bench).
	go run ./hack/benchreport -out docs/performance.md -raw bin/bench
