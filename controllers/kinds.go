package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	networkingv1ac "k8s.io/client-go/applyconfigurations/networking/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// kindOps are the typed operations the apply and prune phases need for one
// kind of child.
type kindOps struct {
	newObject func() client.Object
	// gvk is the kind's group, version and kind.
	gvk     schema.GroupVersionKind
	newList func() client.ObjectList
	// extract returns the fields of obj that the operator's field manager
	// owns, as an apply configuration comparable with a rendered one.
	extract func(obj client.Object) (runtime.ApplyConfiguration, error)
}

var kinds = map[render.Kind]kindOps{
	render.KindNetworkPolicy: {
		newObject: func() client.Object { return &networkingv1.NetworkPolicy{} },
		gvk:       networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"),
		newList:   func() client.ObjectList { return &networkingv1.NetworkPolicyList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return networkingv1ac.ExtractNetworkPolicy(o.(*networkingv1.NetworkPolicy), render.ManagedBy)
		},
	},
	render.KindConfigMap: {
		newObject: func() client.Object { return &corev1.ConfigMap{} },
		gvk:       corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		newList:   func() client.ObjectList { return &corev1.ConfigMapList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return corev1ac.ExtractConfigMap(o.(*corev1.ConfigMap), render.ManagedBy)
		},
	},
	render.KindService: {
		newObject: func() client.Object { return &corev1.Service{} },
		gvk:       corev1.SchemeGroupVersion.WithKind("Service"),
		newList:   func() client.ObjectList { return &corev1.ServiceList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return corev1ac.ExtractService(o.(*corev1.Service), render.ManagedBy)
		},
	},
	render.KindPodDisruptionBudget: {
		newObject: func() client.Object { return &policyv1.PodDisruptionBudget{} },
		gvk:       policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"),
		newList:   func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return policyv1ac.ExtractPodDisruptionBudget(o.(*policyv1.PodDisruptionBudget), render.ManagedBy)
		},
	},
	render.KindDeployment: {
		newObject: func() client.Object { return &appsv1.Deployment{} },
		gvk:       appsv1.SchemeGroupVersion.WithKind("Deployment"),
		newList:   func() client.ObjectList { return &appsv1.DeploymentList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return appsv1ac.ExtractDeployment(o.(*appsv1.Deployment), render.ManagedBy)
		},
	},
	render.KindStatefulSet: {
		newObject: func() client.Object { return &appsv1.StatefulSet{} },
		gvk:       appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
		newList:   func() client.ObjectList { return &appsv1.StatefulSetList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return appsv1ac.ExtractStatefulSet(o.(*appsv1.StatefulSet), render.ManagedBy)
		},
	},
}

// metadata returns an empty metadata-only object of the kind.
func (k kindOps) metadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(k.gvk)
	return m
}
