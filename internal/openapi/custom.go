package openapi

import (
	"fmt"
	"strconv"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdbuilder "k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/terminus-project/terminus/internal/crd"
)

// Service serves the OpenAPI documents and keeps the custom resources'
// part of them current: each established CRD's versions join /openapi/v2
// (merged into the one document) and /openapi/v3/apis/<group>/<version>,
// as upstream's OpenAPI controllers publish them, so that kubectl explain,
// kubectl's validation and server-side apply see custom resources.
type Service struct {
	builder *specBuilder
	v2      *handler.OpenAPIService
	v3      *handler3.OpenAPIService

	mu          sync.Mutex
	generation  int
	customPaths map[string]bool
	// cache holds each CRD version's documents, built on first use and
	// kept while the CRD does not change.
	cache map[customKey]*customDocs
}

type customKey struct {
	uid, resourceVersion, version string
}

type customDocs struct {
	crd     *apiextensionsv1.CustomResourceDefinition
	version string

	once sync.Once
	v2   *spec.Swagger
	v3   *spec3.OpenAPI
	err  error
}

// SetCustomResources replaces the custom resources' documents with those
// of crds (the established ones; each served version). Documents are built
// when first asked for, so establishing a CRD does not wait for them.
func (s *Service) SetCustomResources(crds []*apiextensionsv1.CustomResourceDefinition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
	etag := "custom-" + strconv.Itoa(s.generation)
	cache := map[customKey]*customDocs{}
	var all []*customDocs
	byPath := map[string][]*customDocs{}
	for _, c := range crds {
		for _, v := range c.Spec.Versions {
			if !v.Served {
				continue
			}
			key := customKey{uid: string(c.UID), resourceVersion: c.ResourceVersion, version: v.Name}
			d := s.cache[key]
			if d == nil {
				d = &customDocs{crd: c, version: v.Name}
			}
			cache[key] = d
			all = append(all, d)
			path := "apis/" + c.Spec.Group + "/" + v.Name
			byPath[path] = append(byPath[path], d)
		}
	}
	s.cache = cache
	b := s.builder
	// Once: the merge runs on the first request after a change, not on
	// every request.
	s.v2.UpdateSpecLazy(cached.Once(cached.Func(func() (*spec.Swagger, string, error) {
		static, err := b.v2()
		if err != nil {
			return nil, "", err
		}
		specs := make([]*spec.Swagger, 0, len(all))
		for _, d := range all {
			v2, _, err := d.get()
			if err != nil {
				return nil, "", err
			}
			specs = append(specs, v2)
		}
		merged, err := crdbuilder.MergeSpecs(static, specs...)
		if err != nil {
			return nil, "", fmt.Errorf("openapi: merging custom resources: %w", err)
		}
		return merged, etag, nil
	})))
	for path, docs := range byPath {
		s.v3.UpdateGroupVersionLazy(path, cached.Once(cached.Func(func() (*spec3.OpenAPI, string, error) {
			specs := make([]*spec3.OpenAPI, 0, len(docs))
			for _, d := range docs {
				_, v3, err := d.get()
				if err != nil {
					return nil, "", err
				}
				specs = append(specs, v3)
			}
			merged, err := crdbuilder.MergeSpecsV3(specs...)
			if err != nil {
				return nil, "", fmt.Errorf("openapi: merging %s: %w", path, err)
			}
			return merged, etag, nil
		})))
	}
	for path := range s.customPaths {
		if _, ok := byPath[path]; !ok {
			s.v3.DeleteGroupVersion(path)
		}
	}
	s.customPaths = map[string]bool{}
	for path := range byPath {
		s.customPaths[path] = true
	}
}

// get builds the documents once.
func (d *customDocs) get() (*spec.Swagger, *spec3.OpenAPI, error) {
	d.once.Do(func() {
		d.v2, d.err = crd.OpenAPIV2(d.crd, d.version)
		if d.err == nil {
			d.v3, d.err = crd.OpenAPIV3(d.crd, d.version)
		}
	})
	return d.v2, d.v3, d.err
}
