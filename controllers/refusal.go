package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// This file decides whether a failed write of a child is a refusal (the
// same request would fail again: the spec, or a policy of the cluster, does
// not allow the child) or a transient failure (retried), and maps a refusal
// back to the spec field the refused field was rendered from.

// foreignObjectError says that an object with a child's name exists and the
// topology does not control it: the operator never takes it over.
type foreignObjectError struct {
	kind render.Kind
	name string
}

func (e *foreignObjectError) Error() string {
	return fmt.Sprintf("%s %s already exists and is not controlled by this topology", e.kind, e.name)
}

// isRefusal tells refusals from transient failures. Refusals: the object is
// invalid (422), the request is malformed or too large (400, 413), or an
// admission plugin, a policy or a quota forbids it (403, except for a
// terminating namespace, which the caller handles), or the name is taken.
// Everything else (5xx, timeouts, conflicts, throttling) is transient.
func isRefusal(err error) bool {
	var foreign *foreignObjectError
	switch {
	case errors.As(err, &foreign):
		return true
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return false
	}
	return apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) ||
		apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsMethodNotSupported(err)
}

// refusalErrors reports a refused child as field errors on the topology: one
// per field the API server named, at the spec field it was rendered from
// where that is known, else at the component that renders the child. The
// detail names the child and quotes the API server.
func refusalErrors(t *zmqv1.ZMQTopology, obj render.Object, err error) field.ErrorList {
	ci := componentIndex(t, obj.Component)
	fallback := field.NewPath("spec", "components").Index(ci)
	var foreign *foreignObjectError
	if errors.As(err, &foreign) {
		return field.ErrorList{field.Invalid(fallback.Child("name"), field.OmitValueType{}, foreign.Error())}
	}
	message := err.Error()
	var causes []struct{ child, message string }
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		message = status.Status().Message
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				if c.Field != "" {
					causes = append(causes, struct{ child, message string }{c.Field, c.Message})
				}
			}
		}
	}
	if len(causes) == 0 {
		return field.ErrorList{field.Invalid(fallback, field.OmitValueType{},
			fmt.Sprintf("%s %s refused by the API server: %s", obj.Kind, obj.Name, message))}
	}
	var out field.ErrorList
	for _, c := range causes {
		p := specField(t, ci, obj, c.child)
		if p == nil {
			p = fallback
		}
		out = append(out, field.Invalid(p, field.OmitValueType{},
			fmt.Sprintf("%s %s refused by the API server: %s: %s", obj.Kind, obj.Name, c.child, c.message)))
	}
	return out
}

func componentIndex(t *zmqv1.ZMQTopology, name string) int {
	for i := range t.Spec.Components {
		if t.Spec.Components[i].Name == name {
			return i
		}
	}
	return 0
}

// specField maps a field of a rendered child, named as the API server names
// it (spec.template.spec.containers[0].ports[1].name), to the spec field it
// was rendered from, or nil when that is not known. It knows three origins:
// the child's name (derived from the topology's and the component's names),
// a port (named after a bound socket), and anything copied from the user's
// pod template (the same path under spec.components[i].template, when the
// user's template has a value there) or from a device's template (under
// spec.components[i].device.template).
func specField(t *zmqv1.ZMQTopology, ci int, obj render.Object, childField string) *field.Path {
	comp := field.NewPath("spec", "components").Index(ci)
	c := &t.Spec.Components[ci]
	segs, ok := parseFieldPath(childField)
	if !ok {
		return nil
	}
	if childField == "metadata.name" {
		if len(validation.IsDNS1035Label(t.Name)) > 0 {
			return field.NewPath("metadata", "name")
		}
		return comp.Child("name")
	}
	isWorkload := obj.Kind.IsWorkload()
	// The pod template's fields come from the user's template, or from a
	// device's device.template.
	var src any
	srcPath := comp.Child("template")
	switch {
	case c.Template != nil:
		src = c.Template
	case c.Device != nil && c.Device.Template != nil:
		src, srcPath = c.Device.Template, comp.Child("device", "template")
	}
	if isWorkload && src != nil && len(segs) > 2 && segs[0].name == "spec" && segs[1].name == "template" && len(segs[1].keys) == 0 {
		if user, err := toJSONMap(src); err == nil {
			if _, found := lookup(user, segs[2:]); found {
				p := srcPath
				for _, s := range segs[2:] {
					p = s.appendTo(p)
				}
				return p
			}
		}
	}
	// A port: the rendered port entry's name is the bound socket's.
	for i, s := range segs {
		if s.name != "ports" || len(s.keys) != 1 {
			continue
		}
		rendered, err := toJSONMap(obj.Apply)
		if err != nil {
			return nil
		}
		entry, found := lookup(rendered, segs[:i+1])
		m, isMap := entry.(map[string]any)
		if !found || !isMap {
			return nil
		}
		name, _ := m["name"].(string)
		for j := range c.Sockets {
			if c.Sockets[j].Name != name || c.Sockets[j].Bind == nil {
				continue
			}
			sp := comp.Child("sockets").Index(j)
			if rest := segs[i+1:]; len(rest) == 1 {
				switch rest[0].name {
				case "name":
					return sp.Child("name")
				case "port", "containerPort", "targetPort":
					return sp.Child("bind", "port")
				}
			}
			return sp
		}
		return nil
	}
	return nil
}

// pathSegment is one step of a field path: a name and the indexes or map
// keys that follow it (containers[0] is {containers, [0]}).
type pathSegment struct {
	name string
	keys []string
}

func (s pathSegment) appendTo(p *field.Path) *field.Path {
	p = p.Child(s.name)
	for _, k := range s.keys {
		if n, err := strconv.Atoi(k); err == nil {
			p = p.Index(n)
		} else {
			p = p.Key(k)
		}
	}
	return p
}

// parseFieldPath parses a field path as the API server prints it:
// names separated by dots, each followed by any number of [index] or [key].
func parseFieldPath(s string) ([]pathSegment, bool) {
	if s == "" {
		return nil, false
	}
	var out []pathSegment
	for s != "" {
		end := strings.IndexAny(s, ".[")
		if end < 0 {
			end = len(s)
		}
		seg := pathSegment{name: s[:end]}
		if seg.name == "" {
			return nil, false
		}
		s = s[end:]
		for strings.HasPrefix(s, "[") {
			rb := strings.IndexByte(s, ']')
			if rb < 0 {
				return nil, false
			}
			seg.keys = append(seg.keys, s[1:rb])
			s = s[rb+1:]
		}
		out = append(out, seg)
		if strings.HasPrefix(s, ".") {
			s = s[1:]
			if s == "" {
				return nil, false
			}
		} else if s != "" {
			return nil, false
		}
	}
	return out, true
}

// lookup follows a path through a decoded JSON document.
func lookup(doc any, segs []pathSegment) (any, bool) {
	cur := doc
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[s.name]; !ok {
			return nil, false
		}
		for _, k := range s.keys {
			switch v := cur.(type) {
			case []any:
				n, err := strconv.Atoi(k)
				if err != nil || n < 0 || n >= len(v) {
					return nil, false
				}
				cur = v[n]
			case map[string]any:
				if cur, ok = v[k]; !ok {
					return nil, false
				}
			default:
				return nil, false
			}
		}
	}
	return cur, true
}

func toJSONMap(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}
