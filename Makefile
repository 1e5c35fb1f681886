# The two commands a newcomer needs are `make run` and `make test`.
GO ?= go

.PHONY: run test build bench vet fuzz generate

run: ## run terminus on embedded etcd in ./.terminus
	$(GO) run ./cmd/terminus serve

test: ## every test, under the race detector (what CI runs), the operator module's too
	$(GO) test -race ./...
	cd test/operator && $(GO) test -race ./...

build:
	$(GO) build -o bin/terminus ./cmd/terminus

vet:
	$(GO) vet ./...

bench: build ## create and watch-latency against a fresh server; JSON lines
	./bin/terminus bench --scenario ready --launch "./bin/terminus serve --data-dir {tmpdir} --secure-port 0" --launch-kubeconfig "{tmpdir}/kubeconfig" --runs 5

fuzz: ## a short run of every fuzz target
	for f in FuzzCreate FuzzPatch FuzzSelectors FuzzDeleteOptions; do \
		$(GO) test ./internal/apiserver -run XXX -fuzz "^$$f$$" -fuzztime 20s || exit 1; done

generate: ## regenerate OpenAPI definitions
	$(GO) generate ./internal/openapi/...
