package apiserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/terminus-project/terminus/internal/registry"
)

// Discovery documents are built once from the resource table and served as
// bytes: legacy (/api, /apis, /api/v1, /apis/<g>, /apis/<g>/<v>) and
// aggregated (apidiscovery.k8s.io v2 and v2beta1, which kubectl 1.27–1.29
// still ask for; both versions have the same shape).

type discoveryDocs struct {
	// aggregated[core] is the APIGroupDiscoveryList for /api (true) or
	// /apis (false), encoded with apiVersion v2; etag is its hash.
	aggregated map[bool][]byte
	etag       map[bool]string
}

func buildDiscovery(groups []groupInfo) *discoveryDocs {
	d := &discoveryDocs{aggregated: map[bool][]byte{}, etag: map[bool]string{}}
	for _, core := range []bool{true, false} {
		list := apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{APIVersion: "apidiscovery.k8s.io/v2", Kind: "APIGroupDiscoveryList"}}
		byGroup := map[string]*apidiscoveryv2.APIGroupDiscovery{}
		for _, g := range groups {
			if (g.gv.Group == "") != core {
				continue
			}
			gd, ok := byGroup[g.gv.Group]
			if !ok {
				list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.gv.Group}})
				gd = &list.Items[len(list.Items)-1]
				byGroup[g.gv.Group] = gd
			}
			vd := apidiscoveryv2.APIVersionDiscovery{Version: g.gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
			for _, res := range g.resources {
				vd.Resources = append(vd.Resources, aggregatedResource(res))
			}
			gd.Versions = append(gd.Versions, vd)
		}
		b, _ := json.Marshal(list)
		d.aggregated[core] = b
		sum := sha256.Sum256(b)
		d.etag[core] = `"` + hex.EncodeToString(sum[:]) + `"`
	}
	return d
}

func aggregatedResource(res *registry.Resource) apidiscoveryv2.APIResourceDiscovery {
	scope := apidiscoveryv2.ScopeCluster
	if res.Namespaced {
		scope = apidiscoveryv2.ScopeNamespace
	}
	rd := apidiscoveryv2.APIResourceDiscovery{
		Resource:         res.GVR.Resource,
		ResponseKind:     &metav1.GroupVersionKind{Group: res.GVR.Group, Version: res.GVR.Version, Kind: res.Kind},
		Scope:            scope,
		SingularResource: res.SingularName,
		Verbs:            res.Verbs,
		ShortNames:       res.ShortNames,
		Categories:       res.Categories,
	}
	for _, sub := range res.Subresources {
		rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub.Name,
			ResponseKind: &metav1.GroupVersionKind{Group: sub.GVK.Group, Version: sub.GVK.Version, Kind: sub.GVK.Kind},
			Verbs:        sub.Verbs,
		})
	}
	return rd
}

// aggregatedVersion returns "v2" or "v2beta1" when the Accept header asks
// for aggregated discovery before anything else we serve, "" otherwise.
func aggregatedVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		fields := strings.Split(part, ";")
		mt := strings.TrimSpace(fields[0])
		params := map[string]string{}
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok {
				params[k] = v
			}
		}
		if params["as"] == "APIGroupDiscoveryList" && params["g"] == "apidiscovery.k8s.io" {
			if mt == "application/json" && (params["v"] == "v2" || params["v"] == "v2beta1") {
				return params["v"]
			}
			continue
		}
		if mt == "application/json" || mt == "*/*" || mt == "application/*" || mt == "" {
			return ""
		}
	}
	return ""
}

func (s *Server) serveAggregated(w http.ResponseWriter, r *http.Request, core bool, version string) {
	docs := s.routes().discovery
	body := docs.aggregated[core]
	if version == "v2beta1" {
		body = bytes.Replace(body, []byte(`"apiVersion":"apidiscovery.k8s.io/v2"`), []byte(`"apiVersion":"apidiscovery.k8s.io/v2beta1"`), 1)
	}
	etag := docs.etag[core]
	w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v="+version+";as=APIGroupDiscoveryList")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (s *Server) serveAPIVersions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, methodNotAllowed())
		return
	}
	if v := aggregatedVersion(r); v != "" {
		s.serveAggregated(w, r, true, v)
		return
	}
	s.writeStatusObject(w, r, http.StatusOK, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	})
}

func (s *Server) apiGroups() []metav1.APIGroup {
	var out []metav1.APIGroup
	index := map[string]int{}
	for _, g := range s.routes().groups {
		if g.gv.Group == "" {
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: g.gv.String(), Version: g.gv.Version}
		if i, ok := index[g.gv.Group]; ok {
			out[i].Versions = append(out[i].Versions, gvd)
			continue
		}
		index[g.gv.Group] = len(out)
		out = append(out, metav1.APIGroup{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:     g.gv.Group, Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd,
		})
	}
	return out
}

func (s *Server) serveAPIGroupList(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, methodNotAllowed())
		return
	}
	if v := aggregatedVersion(r); v != "" {
		s.serveAggregated(w, r, false, v)
		return
	}
	s.writeStatusObject(w, r, http.StatusOK, &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   s.apiGroups(),
	})
}

func (s *Server) serveAPIGroup(w http.ResponseWriter, r *http.Request, group string) {
	for _, g := range s.apiGroups() {
		if g.Name == group {
			g := g
			s.writeStatusObject(w, r, http.StatusOK, &g)
			return
		}
	}
	s.writeError(w, r, notFoundResource())
}

func (s *Server) serveAPIResourceList(w http.ResponseWriter, r *http.Request, gv schema.GroupVersion) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.writeError(w, r, methodNotAllowed())
		return
	}
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, g := range s.routes().groups {
		if g.gv != gv {
			continue
		}
		for _, res := range g.resources {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: res.GVR.Resource, SingularName: res.SingularName, Namespaced: res.Namespaced,
				Kind: res.Kind, Verbs: res.Verbs, ShortNames: res.ShortNames, Categories: res.Categories,
			})
			for _, sub := range res.Subresources {
				ar := metav1.APIResource{
					Name: res.GVR.Resource + "/" + sub.Name, Namespaced: res.Namespaced,
					Kind: sub.GVK.Kind, Verbs: sub.Verbs,
				}
				if sub.GVK.GroupVersion() != gv {
					ar.Group, ar.Version = sub.GVK.Group, sub.GVK.Version
				}
				list.APIResources = append(list.APIResources, ar)
			}
		}
	}
	s.writeStatusObject(w, r, http.StatusOK, list)
}

// sortGroupVersions orders each group's versions as upstream's discovery
// does: by Kubernetes version priority (v1 before v1beta1 before v1alpha1,
// then the rest alphabetically), keeping the groups in first-seen order.
// The first version of a group is its preferred version.
func sortGroupVersions(groups []groupInfo) {
	first := map[string]int{}
	for i, g := range groups {
		if _, ok := first[g.gv.Group]; !ok {
			first[g.gv.Group] = i
		}
	}
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := groups[i].gv, groups[j].gv
		if a.Group != b.Group {
			return first[a.Group] < first[b.Group]
		}
		return version.CompareKubeAwareVersionStrings(a.Version, b.Version) > 0
	})
}
