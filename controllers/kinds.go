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
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
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
	// meta returns the metadata of a rendered apply configuration of the
	// kind (changedetect.go stamps its annotations on it).
	meta func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration
}

var kinds = map[render.Kind]kindOps{
	render.KindNetworkPolicy: {
		newObject: func() client.Object { return &networkingv1.NetworkPolicy{} },
		gvk:       networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"),
		newList:   func() client.ObjectList { return &networkingv1.NetworkPolicyList{} },
		meta: func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration {
			return ac.(*networkingv1ac.NetworkPolicyApplyConfiguration).ObjectMetaApplyConfiguration
		},
	},
	render.KindConfigMap: {
		newObject: func() client.Object { return &corev1.ConfigMap{} },
		gvk:       corev1.SchemeGroupVersion.WithKind("ConfigMap"),
		newList:   func() client.ObjectList { return &corev1.ConfigMapList{} },
		meta: func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration {
			return ac.(*corev1ac.ConfigMapApplyConfiguration).ObjectMetaApplyConfiguration
		},
	},
	render.KindService: {
		newObject: func() client.Object { return &corev1.Service{} },
		gvk:       corev1.SchemeGroupVersion.WithKind("Service"),
		newList:   func() client.ObjectList { return &corev1.ServiceList{} },
		meta: func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration {
			return ac.(*corev1ac.ServiceApplyConfiguration).ObjectMetaApplyConfiguration
		},
	},
	render.KindPodDisruptionBudget: {
		newObject: func() client.Object { return &policyv1.PodDisruptionBudget{} },
		gvk:       policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"),
		newList:   func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} },
		meta: func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration {
			return ac.(*policyv1ac.PodDisruptionBudgetApplyConfiguration).ObjectMetaApplyConfiguration
		},
	},
	render.KindDeployment: {
		newObject: func() client.Object { return &appsv1.Deployment{} },
		gvk:       appsv1.SchemeGroupVersion.WithKind("Deployment"),
		newList:   func() client.ObjectList { return &appsv1.DeploymentList{} },
		meta: func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration {
			return ac.(*appsv1ac.DeploymentApplyConfiguration).ObjectMetaApplyConfiguration
		},
	},
	render.KindStatefulSet: {
		newObject: func() client.Object { return &appsv1.StatefulSet{} },
		gvk:       appsv1.SchemeGroupVersion.WithKind("StatefulSet"),
		newList:   func() client.ObjectList { return &appsv1.StatefulSetList{} },
		meta: func(ac runtime.ApplyConfiguration) *metav1ac.ObjectMetaApplyConfiguration {
			return ac.(*appsv1ac.StatefulSetApplyConfiguration).ObjectMetaApplyConfiguration
		},
	},
}

// metadata returns an empty metadata-only object of the kind.
func (k kindOps) metadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(k.gvk)
	return m
}
