package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks a topology against every rule that keeps its children
// valid and its links meaningful. Some rules span more than one object and
// are not expressed in the CRD: every connect names a bound socket that
// exists, connected socket types are ZMTP peers, a component binds each
// port once, a device has the sockets its type requires, no two components
// derive a child of the same name, a PAIR socket has a single peer, and
// bind.allowFrom peers are valid NetworkPolicy peers. The
// others repeat the CRD's OpenAPI and CEL rules (names, addresses, reserved
// names in templates) for objects that never went through them. It is
// pure, and reports every error with its field path. The controller calls
// it before rendering anything.
func (t *ZMQTopology) Validate() field.ErrorList {
	spec := field.NewPath("spec")
	comps := spec.Child("components")
	byName := make(map[string]*Component, len(t.Spec.Components))
	for i := range t.Spec.Components {
		byName[t.Spec.Components[i].Name] = &t.Spec.Components[i]
	}

	errs := validateTopologyName(t.Name)
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		path := comps.Index(i)
		errs = append(errs, validateShape(c, path)...)
		errs = append(errs, validatePorts(c, path)...)
		errs = append(errs, validateDevice(c, path)...)
		errs = append(errs, validateEndpointUpdates(c, path)...)
		errs = append(errs, validateTemplate(c, path)...)
		errs = append(errs, validatePlacement(c, path)...)
		errs = append(errs, validateConnects(c, path, byName)...)
		errs = append(errs, validateAllowFrom(c, path)...)
	}
	errs = append(errs, validateChildNames(t)...)
	errs = append(errs, validateExclusivePeers(t)...)
	errs = append(errs, validateAutoscaling(t)...)
	errs = append(errs, validateSecurity(t)...)
	return errs
}

// validateShape repeats the CRD's exactly-one-of and name rules so that
// Validate is safe on objects that never went through admission (tests,
// objects stored before a rule existed).
func validateShape(c *Component, path *field.Path) field.ErrorList {
	errs := validateComponentName(c.Name, path.Child("name"))
	if (c.Template == nil) == (c.Device == nil) {
		errs = append(errs, field.Invalid(path, c.Name, "exactly one of template or device must be set"))
	}
	for j, s := range c.Sockets {
		sp := path.Child("sockets").Index(j)
		errs = append(errs, validateSocketName(s.Name, sp.Child("name"))...)
		if (s.Bind == nil) == (s.Connect == nil) {
			errs = append(errs, field.Invalid(sp, s.Name, "exactly one of bind or connect must be set"))
		}
		if s.Connect != nil && s.Connect.Address != "" {
			errs = append(errs, validateAddress(s.Connect.Address, sp.Child("connect", "address"))...)
		}
	}
	return errs
}

// validatePorts reports two sockets of one component binding the same port
// (they share the pod's network namespace) and a socket binding the
// sidecar's port.
func validatePorts(c *Component, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	owner := map[int32]string{}
	for j, s := range c.Sockets {
		if s.Bind == nil {
			continue
		}
		if s.Bind.Port == SidecarPort {
			errs = append(errs, field.Invalid(path.Child("sockets").Index(j).Child("bind", "port"), s.Bind.Port,
				fmt.Sprintf("port %d is reserved for the zmq-sidecar container of every pod", SidecarPort)))
			continue
		}
		if c.Device != nil && s.Bind.Port == DeviceMetricsPort {
			errs = append(errs, field.Invalid(path.Child("sockets").Index(j).Child("bind", "port"), s.Bind.Port,
				fmt.Sprintf("port %d is reserved for the device's metrics", DeviceMetricsPort)))
			continue
		}
		if other, dup := owner[s.Bind.Port]; dup {
			errs = append(errs, field.Duplicate(path.Child("sockets").Index(j).Child("bind", "port"),
				fmt.Sprintf("%d (already bound by socket %q)", s.Bind.Port, other)))
			continue
		}
		owner[s.Bind.Port] = s.Name
	}
	return errs
}

// validateDevice checks that a device has exactly a frontend and a backend
// socket of the types its device type requires, and its ioThreads.
func validateDevice(c *Component, path *field.Path) field.ErrorList {
	if c.Device == nil {
		return nil
	}
	front, back, ok := DeviceLayout(c.Device.Type)
	if !ok {
		return field.ErrorList{field.NotSupported(path.Child("device", "type"), c.Device.Type, []DeviceType{Forwarder, Streamer, Queue})}
	}
	want := map[string]SocketType{DeviceFrontend: front, DeviceBackend: back}
	var errs field.ErrorList
	if n := c.Device.IOThreads; n != nil {
		errs = append(errs, inRange(path.Child("device", "ioThreads"), *n, 0, MaxDeviceIOThreads)...)
	}
	seen := map[string]bool{}
	for j, s := range c.Sockets {
		sp := path.Child("sockets").Index(j)
		typ, known := want[s.Name]
		switch {
		case !known:
			errs = append(errs, field.Invalid(sp.Child("name"), s.Name,
				fmt.Sprintf("a %s device has only the sockets %q (%s) and %q (%s)", c.Device.Type, DeviceFrontend, front, DeviceBackend, back)))
		case s.Type != typ:
			errs = append(errs, field.Invalid(sp.Child("type"), s.Type,
				fmt.Sprintf("the %s socket of a %s device must be %s", s.Name, c.Device.Type, typ)))
		}
		seen[s.Name] = true
	}
	for _, name := range []string{DeviceFrontend, DeviceBackend} {
		if !seen[name] {
			errs = append(errs, field.Required(path.Child("sockets"),
				fmt.Sprintf("a %s device needs a %q socket of type %s", c.Device.Type, name, want[name])))
		}
	}
	return errs
}

// validateConnects checks that every connect to a component names a bound
// socket of that component whose type is a ZMTP peer of the connecting one.
func validateConnects(c *Component, path *field.Path, byName map[string]*Component) field.ErrorList {
	var errs field.ErrorList
	for j, s := range c.Sockets {
		if s.Connect == nil || s.Connect.Component == "" {
			continue
		}
		cp := path.Child("sockets").Index(j).Child("connect")
		target, ok := byName[s.Connect.Component]
		if !ok {
			errs = append(errs, field.NotFound(cp.Child("component"), s.Connect.Component))
			continue
		}
		bound := target.Socket(s.Connect.Socket)
		switch {
		case bound == nil:
			errs = append(errs, field.Invalid(cp.Child("socket"), s.Connect.Socket,
				fmt.Sprintf("component %q has no socket named %q", target.Name, s.Connect.Socket)))
		case bound.Bind == nil:
			errs = append(errs, field.Invalid(cp.Child("socket"), s.Connect.Socket,
				fmt.Sprintf("socket %s/%s connects instead of binding, so nothing can connect to it", target.Name, bound.Name)))
		case !Compatible(s.Type, bound.Type):
			errs = append(errs, field.Invalid(path.Child("sockets").Index(j).Child("type"), s.Type,
				fmt.Sprintf("a %s socket cannot connect to %s/%s of type %s; ZMTP peers of %s are %v",
					s.Type, target.Name, bound.Name, bound.Type, s.Type, CompatiblePeers(s.Type))))
		}
	}
	return errs
}

// Socket returns the component's socket with the given name, or nil.
func (c *Component) Socket(name string) *Socket {
	for i := range c.Sockets {
		if c.Sockets[i].Name == name {
			return &c.Sockets[i]
		}
	}
	return nil
}

// Component returns the topology's component with the given name, or nil.
func (t *ZMQTopology) Component(name string) *Component {
	for i := range t.Spec.Components {
		if t.Spec.Components[i].Name == name {
			return &t.Spec.Components[i]
		}
	}
	return nil
}

// validateExclusivePeers checks PAIR sockets, which have exactly one peer:
// a bound PAIR accepts a single connection and a connecting PAIR keeps one.
// So a component with a PAIR socket runs at most one replica (the others
// would have no peer, or steal it), and a bound PAIR is the target of at
// most one connect. Other socket types spread over any number of peers, so
// any replica count makes sense for them (see render/endpoints.go for how
// their endpoints are chosen).
func validateExclusivePeers(t *ZMQTopology) field.ErrorList {
	comps := field.NewPath("spec", "components")
	var errs field.ErrorList
	peerOf := map[string]string{} // bound "<component>/<socket>" -> its connector
	for i := range t.Spec.Components {
		c := &t.Spec.Components[i]
		reported := false
		for j, s := range c.Sockets {
			if s.Type != PAIR {
				continue
			}
			if c.Replicas != nil && *c.Replicas > 1 && !reported {
				errs = append(errs, field.Invalid(comps.Index(i).Child("replicas"), *c.Replicas,
					fmt.Sprintf("socket %q is a PAIR, which has exactly one peer, so its component runs at most 1 replica", s.Name)))
				reported = true
			}
			if s.Connect == nil || s.Connect.Component == "" {
				continue
			}
			target := s.Connect.Component + "/" + s.Connect.Socket
			if first, taken := peerOf[target]; taken {
				errs = append(errs, field.Invalid(comps.Index(i).Child("sockets").Index(j).Child("connect"), target,
					fmt.Sprintf("the PAIR socket %s already has a peer, %s, and a PAIR has exactly one", target, first)))
				continue
			}
			peerOf[target] = c.Name + "/" + s.Name
		}
	}
	return errs
}
