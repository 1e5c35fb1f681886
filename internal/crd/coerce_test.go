package crd

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPruneAndDefault(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantUnknown []string
		want        string
	}{
		{
			name: "unknown fields are dropped and reported with upstream paths",
			in: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","foo":1},"top":1,
				"spec":{"color":"red","bogus":true,"ports":[{"port":80,"x":1}]}}`,
			wantUnknown: []string{"metadata.foo", "spec.bogus", "spec.ports[0].x", "top"},
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
				"spec":{"color":"red","ports":[{"port":80,"protocol":"TCP"}]}}`,
		},
		{
			name: "schema defaults are applied",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"blue"}}`,
		},
		{
			name: "a null without default is dropped, a null with a default is defaulted",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"replicas":null,"color":null}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"blue"}}`,
		},
		{
			name: "x-kubernetes-preserve-unknown-fields keeps everything below it",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"red","extra":{"a":{"b":[1,{"c":2}]}}}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"red","extra":{"a":{"b":[1,{"c":2}]}}}}`,
		},
		{
			name:        "embedded resources keep apiVersion and kind and have their metadata coerced",
			in:          `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"red","template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","zzz":1},"spec":{"x":1}}}}`,
			wantUnknown: []string{"spec.template.metadata.zzz"},
			want:        `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"red","template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"x":1}}}}`,
		},
		{
			name: "malformed metadata fields are dropped",
			in:   `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","labels":"nope"},"spec":{"color":"red"}}`,
			want: `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"red"}}`,
		},
		{
			name: "other kinds are left alone",
			in:   `{"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Foreground"}`,
			want: `{"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Foreground"}`,
		},
	}
	v := widgetVersion(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := obj(t, tt.in)
			gotUnknown := v.PruneAndDefault(o.Object)
			if diff := cmp.Diff(tt.wantUnknown, gotUnknown); diff != "" {
				t.Errorf("unknown fields (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(obj(t, tt.want).Object, o.Object); diff != "" {
				t.Errorf("object (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPruneAndDefaultRequest(t *testing.T) {
	v := widgetVersion(t)
	t.Run("malformed metadata is an error as in upstream's decoder", func(t *testing.T) {
		_, err := v.PruneAndDefaultRequest(obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":5}}`).Object, true)
		want := "json: cannot unmarshal number into Go struct field ObjectMeta.name of type string"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
	t.Run("a non-strict decode collects no paths", func(t *testing.T) {
		o := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"bogus":1}}`)
		got, err := v.PruneAndDefaultRequest(o.Object, false)
		if err != nil || got != nil {
			t.Errorf("got %v, %v; want no paths and no error", got, err)
		}
		if diff := cmp.Diff(obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"color":"blue"}}`).Object, o.Object); diff != "" {
			t.Errorf("object (-want +got):\n%s", diff)
		}
	})
	t.Run("a strict decode reports paths", func(t *testing.T) {
		got, err := v.PruneAndDefaultRequest(obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"bogus":1}}`).Object, true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"spec.bogus"}, got); diff != "" {
			t.Errorf("unknown fields (-want +got):\n%s", diff)
		}
	})
}

func TestUnknownFieldMessages(t *testing.T) {
	got := UnknownFieldMessages([]string{"spec.foo", "metadata.bar"})
	want := []string{`unknown field "spec.foo"`, `unknown field "metadata.bar"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestDefaultOnRead(t *testing.T) {
	v := widgetVersion(t)
	o := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","labels":5},"spec":{"old":1}}`)
	v.DefaultOnRead(o.Object)
	want := obj(t, `{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","generation":1},"spec":{"color":"blue"}}`)
	t.Run("stored objects are pruned, repaired and defaulted", func(t *testing.T) {
		if diff := cmp.Diff(want.Object, o.Object); diff != "" {
			t.Errorf("object (-want +got):\n%s", diff)
		}
	})
}
