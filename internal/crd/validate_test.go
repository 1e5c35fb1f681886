package crd

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const blockingNote = `<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`

func TestVersionValidateCreate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "a valid widget has no errors",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"replicas":1,"name":"wx"}}`,
		},
		{
			name: "apiVersion and kind must be the served ones",
			in:   `{"apiVersion":"example.com/v2","kind":"Gadget","metadata":{"name":"w1","namespace":"default"}}`,
			want: []string{
				`kind: Invalid value: "Gadget": must be Widget`,
				`apiVersion: Invalid value: "example.com/v2": must be example.com/v1`,
			},
		},
		{
			name: "the name must be a DNS subdomain",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"W_1","namespace":"default"}}`,
			want: []string{`metadata.name: Invalid value: "W_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name: "a namespaced widget needs a namespace",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"}}`,
			want: []string{`metadata.namespace: Required value`, blockingNote},
		},
		{
			name: "A11 a finalizer without a domain is accepted",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","finalizers":["foo"]}}`,
		},
		{
			name: "A11 finalizers must be qualified names",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","finalizers":["a/b/c"]}}`,
			// apimachinery's declarative ObjectMeta validation reports this
			// one, replacing the handwritten metadata.finalizers[0] error.
			want: []string{`metadata.finalizers: Invalid value: "a/b/c": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`},
		},
		{
			name: "schema errors block CEL rules with upstream's note",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"replicas":"x","color":"pink","name":"toolong"}}`,
			want: []string{
				`spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`,
				`spec.color: Unsupported value: "pink": supported values: "blue", "red", "green"`,
				`spec.name: Too long: may not be more than 5 bytes`,
				`.spec.replicas: Invalid value: 0: .spec.replicas accessor error: x is of the type string, expected int64`,
				blockingNote,
			},
		},
		{
			name: "CEL rule with message, reason and fieldPath",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"replicas":5,"maxReplicas":1}}`,
			want: []string{`spec.replicas: Forbidden: replicas must not exceed maxReplicas`},
		},
		{
			name: "CEL rule with messageExpression",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"name":"abc"}}`,
			want: []string{`spec.name: Invalid value: "abc": name abc must start with w`},
		},
		{
			name: "scale spec replicas must not be negative",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"replicas":-1}}`,
			want: []string{
				`spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0`,
				`.spec.replicas: Invalid value: -1: should be a non-negative integer`,
			},
		},
		{
			name: "scale status replicas must fit an int32",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"status":{"replicas":4294967296}}`,
			want: []string{`.status.replicas: Invalid value: 4294967296: should be less than or equal to 2147483647`},
		},
		{
			name: "list-type map keys must be unique",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"ports":[{"port":80},{"port":80}]}}`,
			want: []string{`spec.ports[1]: Duplicate value: {"port":80}`},
		},
		{
			name: "embedded resources need apiVersion and kind",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default"},"spec":{"template":{"metadata":{"name":"p"}}}}`,
			want: []string{
				`spec.template.apiVersion: Required value`,
				`spec.template.kind: Required value`,
				blockingNote,
			},
		},
	}
	v := widgetVersion(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errStrings(v.ValidateCreate(context.Background(), obj(t, tt.in)))
			// kube-openapi reports schema errors in map order.
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionValidateUpdate(t *testing.T) {
	const stored = `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","generation":1},"spec":{"size":"s","color":"pink","name":"abc","ports":[{"port":80},{"port":80}]}}`
	const deleting = `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["example.com/a"]},"spec":{}}`
	tests := []struct {
		name string
		old  string
		in   string
		want []string
	}{
		{
			name: "ratcheting: errors in unchanged fields are not reported",
			old:  stored,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","generation":1,"labels":{"a":"b"}},"spec":{"size":"s","color":"pink","name":"abc","ports":[{"port":80},{"port":80}]}}`,
		},
		{
			name: "ratcheting: a changed field is validated",
			old:  stored,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","generation":1},"spec":{"size":"s","color":"grey","name":"abd","ports":[{"port":80},{"port":80}]}}`,
			want: []string{
				`spec.color: Unsupported value: "grey": supported values: "blue", "red", "green"`,
				blockingNote,
			},
		},
		{
			name: "ratcheting: a changed CEL-validated field is checked",
			old:  stored,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","generation":1},"spec":{"size":"s","color":"pink","name":"abd","ports":[{"port":80},{"port":80}]}}`,
			want: []string{`spec.name: Invalid value: "abd": name abd must start with w`},
		},
		{
			name: "CEL transition rule sees oldSelf",
			old:  stored,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","generation":1},"spec":{"size":"m","color":"pink","name":"abc","ports":[{"port":80},{"port":80}]}}`,
			want: []string{`spec.size: Invalid value: "m": size is immutable`},
		},
		{
			name: "J4d an update needs a resourceVersion",
			old:  stored,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","generation":1},"spec":{"size":"s","color":"pink","name":"abc","ports":[{"port":80},{"port":80}]}}`,
			want: []string{`metadata.resourceVersion: Invalid value: "": must be specified for an update`},
		},
		{
			name: "the name is immutable",
			old:  stored,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w2","namespace":"default","resourceVersion":"5","generation":1},"spec":{"size":"s","color":"pink","name":"abc","ports":[{"port":80},{"port":80}]}}`,
			want: []string{`metadata.name: Invalid value: "w2": field is immutable`},
		},
		{
			name: "C2 no new finalizers on an object being deleted",
			old:  deleting,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["example.com/a","example.com/b"]},"spec":{}}`,
			want: []string{`metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/b"}`},
		},
		{
			name: "C2 finalizers may be removed from an object being deleted",
			old:  deleting,
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5","deletionTimestamp":"2024-01-01T00:00:00Z"},"spec":{}}`,
		},
	}
	v := widgetVersion(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errStrings(v.ValidateUpdate(context.Background(), obj(t, tt.in), obj(t, tt.old)))
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionValidateStatusUpdate(t *testing.T) {
	const stored = `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5"},"spec":{"color":"pink"},"status":{"phase":"Pending"}}`
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "a valid status is accepted even when the stored spec is invalid",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5"},"spec":{"color":"pink"},"status":{"phase":"Ready","replicas":2}}`,
		},
		{
			name: "status is validated against the status schema",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5"},"spec":{"color":"pink"},"status":{"phase":"Nope"}}`,
			want: []string{
				`status.phase: Unsupported value: "Nope": supported values: "Pending", "Ready"`,
				blockingNote,
			},
		},
		{
			name: "scale status replicas are checked",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","resourceVersion":"5"},"spec":{"color":"pink"},"status":{"replicas":-3}}`,
			want: []string{`.status.replicas: Invalid value: -3: should be a non-negative integer`},
		},
	}
	v := widgetVersion(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errStrings(v.ValidateStatusUpdate(context.Background(), obj(t, tt.in), obj(t, stored)))
			if diff := cmp.Diff(tt.want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionWarnings(t *testing.T) {
	v := widgetVersion(t)
	withFinalizers := func(f string) string {
		return `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"default","finalizers":` + f + `}}`
	}
	t.Run("A11 create warns about finalizers without a domain", func(t *testing.T) {
		got := v.WarningsOnCreate(obj(t, withFinalizers(`["foo","a.b","example.com/x","kubernetes","orphan","foregroundDeletion"]`)))
		want := []string{
			`metadata.finalizers: "a.b": prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers`,
			`metadata.finalizers: "foo": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("A11 update warns only about added finalizers", func(t *testing.T) {
		got := v.WarningsOnUpdate(obj(t, withFinalizers(`["foo","bar"]`)), obj(t, withFinalizers(`["foo"]`)))
		want := []string{`metadata.finalizers: "bar": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
	})
}

func TestVersionPrepare(t *testing.T) {
	v := widgetVersion(t)
	t.Run("A7 create drops status and starts generation at 1", func(t *testing.T) {
		o := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":9},"spec":{},"status":{"phase":"Ready"}}`)
		v.PrepareForCreate(o)
		want := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":1},"spec":{}}`)
		if diff := cmp.Diff(want.Object, o.Object); diff != "" {
			t.Errorf("object (-want +got):\n%s", diff)
		}
	})
	tests := []struct {
		name, in, want string
	}{
		{
			name: "A7 a spec change bumps generation and status stays stored",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":2},"spec":{"replicas":2},"status":{"phase":"Nope"}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":3},"spec":{"replicas":2},"status":{"phase":"Ready"}}`,
		},
		{
			name: "A7 a metadata change keeps generation",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":2,"labels":{"a":"b"}},"spec":{"replicas":1}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":2,"labels":{"a":"b"}},"spec":{"replicas":1},"status":{"phase":"Ready"}}`,
		},
	}
	const old = `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":2},"spec":{"replicas":1},"status":{"phase":"Ready"}}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := obj(t, tt.in)
			v.PrepareForUpdate(o, obj(t, old))
			if diff := cmp.Diff(obj(t, tt.want).Object, o.Object); diff != "" {
				t.Errorf("object (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a status write keeps only status from the request", func(t *testing.T) {
		o := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":2,"labels":{"x":"y"}},"spec":{"replicas":7},"status":{"phase":"Pending"}}`)
		v.PrepareForStatusUpdate(o, obj(t, old))
		want := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":2},"spec":{"replicas":1},"status":{"phase":"Pending"}}`)
		if diff := cmp.Diff(want.Object, o.Object); diff != "" {
			t.Errorf("object (-want +got):\n%s", diff)
		}
	})
}
