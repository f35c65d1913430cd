package controllers

import (
	"reflect"
	"testing"
)

func TestWatchNamespaces(t *testing.T) {
	for _, c := range []struct {
		flag, env string
		want      []string
	}{
		{"", "", nil},
		{"", "a", []string{"a"}},
		{"a,b", "c", []string{"a", "b"}}, // the flag wins
		{" a , ,b,a ", "", []string{"a", "b"}},
		{" ", "x, y", []string{"x", "y"}},
	} {
		if got := WatchNamespaces(c.flag, c.env); !reflect.DeepEqual(got, c.want) {
			t.Errorf("WatchNamespaces(%q, %q) = %q, want %q", c.flag, c.env, got, c.want)
		}
	}
	if o := CacheOptions(); o.DefaultNamespaces != nil {
		t.Errorf("cluster-wide: DefaultNamespaces = %v, want none", o.DefaultNamespaces)
	}
	if o := CacheOptions("a", "b"); len(o.DefaultNamespaces) != 2 || len(o.ByObject) != 4 {
		t.Errorf("namespaced: %+v", o)
	}
}
