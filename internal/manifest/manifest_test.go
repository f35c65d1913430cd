package manifest

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	objs, err := Decode([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || objs[0].GetKind() != "ConfigMap" || objs[1].GetName() != "b" {
		t.Fatalf("got %d objects: %v", len(objs), objs)
	}
	if _, err := Decode([]byte("kind: ConfigMap\n---\nkind: [unclosed\n")); err == nil || !strings.Contains(err.Error(), "document 2") {
		t.Fatalf("a broken second document: err = %v, want one naming document 2", err)
	}
}
