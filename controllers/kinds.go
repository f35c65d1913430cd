package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/zmq-operator/zmq-operator/controllers/render"
)

// kindOps are the typed operations the apply and prune phases need for one
// kind of child.
type kindOps struct {
	newObject func() client.Object
	newList   func() client.ObjectList
	// extract returns the fields of obj that the operator's field manager
	// owns, as an apply configuration comparable with a rendered one.
	extract func(obj client.Object) (runtime.ApplyConfiguration, error)
}

var kinds = map[render.Kind]kindOps{
	render.KindConfigMap: {
		newObject: func() client.Object { return &corev1.ConfigMap{} },
		newList:   func() client.ObjectList { return &corev1.ConfigMapList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return corev1ac.ExtractConfigMap(o.(*corev1.ConfigMap), render.ManagedBy)
		},
	},
	render.KindService: {
		newObject: func() client.Object { return &corev1.Service{} },
		newList:   func() client.ObjectList { return &corev1.ServiceList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return corev1ac.ExtractService(o.(*corev1.Service), render.ManagedBy)
		},
	},
	render.KindPodDisruptionBudget: {
		newObject: func() client.Object { return &policyv1.PodDisruptionBudget{} },
		newList:   func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return policyv1ac.ExtractPodDisruptionBudget(o.(*policyv1.PodDisruptionBudget), render.ManagedBy)
		},
	},
	render.KindDeployment: {
		newObject: func() client.Object { return &appsv1.Deployment{} },
		newList:   func() client.ObjectList { return &appsv1.DeploymentList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return appsv1ac.ExtractDeployment(o.(*appsv1.Deployment), render.ManagedBy)
		},
	},
	render.KindStatefulSet: {
		newObject: func() client.Object { return &appsv1.StatefulSet{} },
		newList:   func() client.ObjectList { return &appsv1.StatefulSetList{} },
		extract: func(o client.Object) (runtime.ApplyConfiguration, error) {
			return appsv1ac.ExtractStatefulSet(o.(*appsv1.StatefulSet), render.ManagedBy)
		},
	},
}
