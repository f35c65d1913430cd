package v1alpha1

import (
	"net/netip"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateAllowFrom checks the bind.allowFrom peers of a component's bound
// sockets as the API server checks a NetworkPolicy's ingress peers, so that
// a bad peer is reported on the topology's field rather than as a failed
// NetworkPolicy: each peer sets podSelector and/or namespaceSelector, or
// ipBlock alone; selectors are valid label selectors; ipBlock.cidr is a
// CIDR and each except entry a CIDR strictly inside it. The CRD repeats the
// first two rules in CEL.
func validateAllowFrom(c *Component, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for j, s := range c.Sockets {
		if s.Bind == nil {
			continue
		}
		for i, p := range s.Bind.AllowFrom {
			pp := path.Child("sockets").Index(j).Child("bind", "allowFrom").Index(i)
			selectors := p.PodSelector != nil || p.NamespaceSelector != nil
			switch {
			case !selectors && p.IPBlock == nil:
				errs = append(errs, field.Required(pp, "a peer sets podSelector, namespaceSelector or ipBlock"))
			case selectors && p.IPBlock != nil:
				errs = append(errs, field.Forbidden(pp.Child("ipBlock"), "ipBlock cannot be combined with podSelector or namespaceSelector"))
			}
			opts := metav1validation.LabelSelectorValidationOptions{}
			if p.PodSelector != nil {
				errs = append(errs, metav1validation.ValidateLabelSelector(p.PodSelector, opts, pp.Child("podSelector"))...)
			}
			if p.NamespaceSelector != nil {
				errs = append(errs, metav1validation.ValidateLabelSelector(p.NamespaceSelector, opts, pp.Child("namespaceSelector"))...)
			}
			if p.IPBlock != nil {
				errs = append(errs, validateIPBlock(p.IPBlock.CIDR, p.IPBlock.Except, pp.Child("ipBlock"))...)
			}
		}
	}
	return errs
}

func validateIPBlock(cidr string, except []string, path *field.Path) field.ErrorList {
	block, err := netip.ParsePrefix(cidr)
	if err != nil {
		return field.ErrorList{field.Invalid(path.Child("cidr"), cidr, "must be a CIDR such as 10.0.0.0/16 or fd00::/64")}
	}
	var errs field.ErrorList
	for i, e := range except {
		ex, err := netip.ParsePrefix(e)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(path.Child("except").Index(i), e, "must be a CIDR"))
		case ex.Addr().Is4() != block.Addr().Is4() || ex.Bits() <= block.Bits() || !block.Contains(ex.Addr()):
			errs = append(errs, field.Invalid(path.Child("except").Index(i), e, "must be a CIDR strictly inside "+cidr))
		}
	}
	return errs
}
