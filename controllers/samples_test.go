package controllers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	zmqv1 "github.com/zmq-operator/zmq-operator/api/v1alpha1"
	"github.com/zmq-operator/zmq-operator/controllers/render"
	"github.com/zmq-operator/zmq-operator/pkg/zmqconfig"
)

// sampleWant is what a sample must render, literally. NS in strings is the
// test namespace.
type sampleWant struct {
	file         string
	deployments  map[string]int32  // name -> replicas
	statefulSets map[string]int32  // name -> replicas
	services     map[string]string // name -> "ClusterIP" or "None" (headless)
	servicePorts map[string]string // name -> "name:port,..."
	env          map[string]map[string]string
	args         map[string][]string // workload -> args of its first container
	images       map[string]string   // workload -> image of its first container
	pdbs         []string            // PodDisruptionBudgets: the multi-replica components
}

var samples = []sampleWant{
	{
		file:         "zmq_v1alpha1_pipeline.yaml",
		deployments:  map[string]int32{"pipeline-ventilator": 1, "pipeline-worker": 3, "pipeline-sink": 1},
		statefulSets: map[string]int32{},
		services:     map[string]string{"pipeline-ventilator": "ClusterIP", "pipeline-sink": "ClusterIP"},
		servicePorts: map[string]string{"pipeline-ventilator": "tasks:5557", "pipeline-sink": "results:5558"},
		env: map[string]map[string]string{
			"pipeline-ventilator": {
				"ZMQ_TOPOLOGY": "pipeline", "ZMQ_COMPONENT": "ventilator", "ZMQ_CONFIG": "/etc/zmq/topology.json", "ZMQ_SOCKETS": "tasks",
				"ZMQ_TASKS_TYPE": "PUSH", "ZMQ_TASKS_ENDPOINTS": "tcp://*:5557", "ZMQ_TASKS_BIND": "true",
				"ZMQ_TASKS_SNDHWM": "1000", "ZMQ_TASKS_RCVHWM": "1000", "ZMQ_TASKS_LINGER": "0",
			},
			"pipeline-worker": {
				"ZMQ_SOCKETS":         "tasks,results",
				"ZMQ_TASKS_TYPE":      "PULL",
				"ZMQ_TASKS_ENDPOINTS": "tcp://pipeline-ventilator.NS.svc.cluster.local:5557",
				"ZMQ_TASKS_BIND":      "false", "ZMQ_TASKS_SNDHWM": "1000", "ZMQ_TASKS_RCVHWM": "1000", "ZMQ_TASKS_LINGER": "0",
				"ZMQ_RESULTS_TYPE":      "PUSH",
				"ZMQ_RESULTS_ENDPOINTS": "tcp://pipeline-sink.NS.svc.cluster.local:5558",
				"ZMQ_RESULTS_BIND":      "false",
			},
			"pipeline-sink": {
				"ZMQ_RESULTS_TYPE": "PULL", "ZMQ_RESULTS_ENDPOINTS": "tcp://*:5558", "ZMQ_RESULTS_BIND": "true",
			},
		},
		args:   map[string][]string{"pipeline-worker": {"worker"}},
		images: map[string]string{"pipeline-worker": "zmq-operator-examples:dev"},
		pdbs:   []string{"pipeline-worker"},
	},
	{
		file:         "zmq_v1alpha1_pubsub.yaml",
		deployments:  map[string]int32{"pubsub-prices": 2, "pubsub-news": 1, "pubsub-dashboard": 2, "pubsub-audit": 1},
		statefulSets: map[string]int32{"pubsub-events": 2},
		services:     map[string]string{"pubsub-events": "ClusterIP", "pubsub-events-headless": "None"},
		servicePorts: map[string]string{"pubsub-events": "frontend:5559,backend:5560", "pubsub-events-headless": "frontend:5559,backend:5560"},
		env: map[string]map[string]string{
			"pubsub-events": {
				"ZMQ_FRONTEND_TYPE": "XSUB", "ZMQ_FRONTEND_ENDPOINTS": "tcp://*:5559", "ZMQ_FRONTEND_BIND": "true",
				"ZMQ_BACKEND_TYPE": "XPUB", "ZMQ_BACKEND_ENDPOINTS": "tcp://*:5560", "ZMQ_BACKEND_BIND": "true",
				"ZMQ_BACKEND_SNDHWM": "10000", "ZMQ_BACKEND_HEARTBEAT_IVL": "1000", "ZMQ_BACKEND_HEARTBEAT_TIMEOUT": "3000",
			},
			// Publishers reach one Forwarder replica through the ClusterIP
			// Service: connecting to both would duplicate every message.
			"pubsub-prices": {
				"ZMQ_OUT_TYPE": "PUB", "ZMQ_OUT_BIND": "false",
				"ZMQ_OUT_ENDPOINTS": "tcp://pubsub-events.NS.svc.cluster.local:5559",
			},
			"pubsub-news": {
				"ZMQ_OUT_ENDPOINTS": "tcp://pubsub-events.NS.svc.cluster.local:5559",
			},
			// Subscribers connect to every replica, so they hear every
			// publisher.
			"pubsub-dashboard": {
				"ZMQ_IN_TYPE": "SUB",
				"ZMQ_IN_ENDPOINTS": "tcp://pubsub-events-0.pubsub-events-headless.NS.svc.cluster.local:5560," +
					"tcp://pubsub-events-1.pubsub-events-headless.NS.svc.cluster.local:5560",
				"ZMQ_IN_HEARTBEAT_IVL": "1000", "ZMQ_IN_HEARTBEAT_TIMEOUT": "3000",
			},
			"pubsub-audit": {
				"ZMQ_IN_ENDPOINTS": "tcp://pubsub-events-0.pubsub-events-headless.NS.svc.cluster.local:5560," +
					"tcp://pubsub-events-1.pubsub-events-headless.NS.svc.cluster.local:5560",
				"ZMQ_IN_RCVHWM": "100000", "ZMQ_IN_SNDHWM": "10000",
			},
		},
		args:   map[string][]string{"pubsub-events": {"device", "forwarder", "--config", "/etc/zmq/topology.json", "--listen", ":9918", "--shutdown-delay", "5s", "--drain-timeout", "20s"}},
		images: map[string]string{"pubsub-events": "zmq-sidecar:test", "pubsub-prices": "zmq-operator-examples:dev"},
		pdbs:   []string{"pubsub-events", "pubsub-prices", "pubsub-dashboard"},
	},
	{
		file:         "zmq_v1alpha1_reqrep.yaml",
		deployments:  map[string]int32{"reqrep-broker": 1, "reqrep-client": 2, "reqrep-server": 3},
		statefulSets: map[string]int32{},
		services:     map[string]string{"reqrep-broker": "ClusterIP"},
		servicePorts: map[string]string{"reqrep-broker": "frontend:5570,backend:5571"},
		env: map[string]map[string]string{
			"reqrep-broker": {"ZMQ_FRONTEND_TYPE": "ROUTER", "ZMQ_BACKEND_TYPE": "DEALER", "ZMQ_FRONTEND_TCP_KEEPALIVE": "1", "ZMQ_FRONTEND_TCP_KEEPALIVE_IDLE": "60"},
			"reqrep-client": {"ZMQ_REQUESTS_TYPE": "REQ", "ZMQ_REQUESTS_ENDPOINTS": "tcp://reqrep-broker.NS.svc.cluster.local:5570", "ZMQ_REQUESTS_LINGER": "0"},
			"reqrep-server": {"ZMQ_REQUESTS_TYPE": "REP", "ZMQ_REQUESTS_ENDPOINTS": "tcp://reqrep-broker.NS.svc.cluster.local:5571"},
		},
		args:   map[string][]string{"reqrep-broker": {"device", "queue", "--config", "/etc/zmq/topology.json", "--listen", ":9918", "--shutdown-delay", "5s", "--drain-timeout", "20s"}},
		images: map[string]string{"reqrep-broker": "zmq-sidecar:test"},
		pdbs:   []string{"reqrep-client", "reqrep-server"},
	},
}

// TestSamplesRender applies each sample and checks every child the
// controller creates: names, kinds, Service types and ports, environment,
// the mounted configuration, labels and controller ownerReferences.
func TestSamplesRender(t *testing.T) {
	ctx, _ := envtestOnly(t)
	for _, want := range samples {
		t.Run(want.file, func(t *testing.T) {
			g := gomega.NewWithT(t)
			g.SetDefaultEventuallyTimeout(30e9)
			ns := newNamespace(ctx, t)
			z := loadSample(t, want.file, ns)
			g.Expect(k8sClient.Create(ctx, z)).To(gomega.Succeed())

			lit := func(s string) string { return strings.ReplaceAll(s, "NS", ns) }
			owned := func(o client.Object, component string) {
				t.Helper()
				g.Expect(metav1.IsControlledBy(o, z)).To(gomega.BeTrue(), "%s is not controlled by the topology", o.GetName())
				refs := o.GetOwnerReferences()
				g.Expect(refs).To(gomega.HaveLen(1))
				g.Expect(*refs[0].BlockOwnerDeletion).To(gomega.BeTrue())
				g.Expect(o.GetLabels()).To(gomega.HaveKeyWithValue(render.LabelTopology, z.Name))
				g.Expect(o.GetLabels()).To(gomega.HaveKeyWithValue(render.LabelComponent, component))
				g.Expect(o.GetLabels()).To(gomega.HaveKeyWithValue(render.LabelManagedBy, "zmq-operator"))
				g.Expect(o.GetLabels()).To(gomega.HaveKeyWithValue(render.LabelPartOf, z.Name))
			}

			// Exactly the expected children exist.
			wantNames := map[string]bool{}
			for n := range want.deployments {
				wantNames["Deployment/"+n] = true
			}
			for n := range want.statefulSets {
				wantNames["StatefulSet/"+n] = true
			}
			for n := range want.services {
				wantNames["Service/"+n] = true
			}
			for _, c := range z.Spec.Components {
				wantNames["ConfigMap/"+z.Name+"-"+c.Name+"-zmq"] = true
			}
			for _, n := range want.pdbs {
				wantNames["PodDisruptionBudget/"+n] = true
			}
			g.Eventually(func() []string { return keys(childVersions(ctx, t, z)) }).Should(gomega.ConsistOf(keys(wantNames)))

			pods := map[string]corev1.PodTemplateSpec{}
			for name, replicas := range want.deployments {
				d := &appsv1.Deployment{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, d)).To(gomega.Succeed())
				component := strings.TrimPrefix(name, z.Name+"-")
				owned(d, component)
				g.Expect(*d.Spec.Replicas).To(gomega.Equal(replicas), name)
				g.Expect(d.Spec.Selector.MatchLabels).To(gomega.Equal(map[string]string{render.LabelTopology: z.Name, render.LabelComponent: component}))
				pods[name] = d.Spec.Template
			}
			for name, replicas := range want.statefulSets {
				s := &appsv1.StatefulSet{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)).To(gomega.Succeed())
				owned(s, strings.TrimPrefix(name, z.Name+"-"))
				g.Expect(*s.Spec.Replicas).To(gomega.Equal(replicas), name)
				g.Expect(s.Spec.ServiceName).To(gomega.Equal(name + "-headless"))
				g.Expect(s.Spec.PodManagementPolicy).To(gomega.Equal(appsv1.ParallelPodManagement))
				pods[name] = s.Spec.Template
			}
			for name, typ := range want.services {
				svc := &corev1.Service{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, svc)).To(gomega.Succeed())
				owned(svc, strings.TrimSuffix(strings.TrimPrefix(name, z.Name+"-"), "-headless"))
				if typ == "None" {
					g.Expect(svc.Spec.ClusterIP).To(gomega.Equal("None"), name)
					g.Expect(svc.Spec.PublishNotReadyAddresses).To(gomega.BeTrue(), name)
				} else {
					g.Expect(svc.Spec.Type).To(gomega.Equal(corev1.ServiceTypeClusterIP), name)
					g.Expect(svc.Spec.ClusterIP).NotTo(gomega.Equal("None"), name)
				}
				var ports []string
				for _, p := range svc.Spec.Ports {
					g.Expect(p.TargetPort.IntVal).To(gomega.Equal(p.Port))
					ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
				}
				g.Expect(strings.Join(ports, ",")).To(gomega.Equal(want.servicePorts[name]), name)
			}

			for name, env := range want.env {
				tpl, ok := pods[name]
				g.Expect(ok).To(gomega.BeTrue(), "no workload %s", name)
				got := map[string]string{}
				for _, e := range tpl.Spec.Containers[0].Env {
					got[e.Name] = e.Value
				}
				for k, v := range env {
					g.Expect(got).To(gomega.HaveKeyWithValue(k, lit(v)), "%s env", name)
				}
				// The same sockets are in the mounted file.
				cm := &corev1.ConfigMap{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-zmq"}, cm)).To(gomega.Succeed())
				owned(cm, strings.TrimPrefix(name, z.Name+"-"))
				cfg, err := zmqconfig.Parse([]byte(cm.Data["topology.json"]))
				g.Expect(err).NotTo(gomega.HaveOccurred())
				for _, s := range cfg.Sockets {
					p := zmqconfig.EnvPrefix(s.Name)
					g.Expect(strings.Join(s.Endpoints, ",")).To(gomega.Equal(got[p+"ENDPOINTS"]), "%s %s", name, s.Name)
					g.Expect(s.Type).To(gomega.Equal(got[p+"TYPE"]))
				}
				g.Expect(tpl.Spec.Containers[0].VolumeMounts).To(gomega.ContainElement(corev1.VolumeMount{Name: "zmq-topology", MountPath: "/etc/zmq", ReadOnly: true}))
				g.Expect(tpl.Spec.Volumes).To(gomega.ContainElement(gomega.HaveField("VolumeSource.ConfigMap.Name", name+"-zmq")))
				g.Expect(tpl.Labels).To(gomega.HaveKeyWithValue(render.LabelComponent, strings.TrimPrefix(name, z.Name+"-")))
			}
			// Every pod runs the zmq-sidecar agent as a native sidecar whose
			// /readyz is the pod's readiness.
			for name, tpl := range pods {
				g.Expect(tpl.Spec.InitContainers).To(gomega.HaveLen(1), name)
				sc := tpl.Spec.InitContainers[0]
				g.Expect(sc.Name).To(gomega.Equal("zmq-sidecar"))
				g.Expect(sc.Image).To(gomega.Equal("zmq-sidecar:test"))
				g.Expect(sc.Args).To(gomega.Equal([]string{"agent", "--config", "/etc/zmq/topology.json", "--listen", ":9917", "--probe-interval", "5s"}))
				g.Expect(sc.RestartPolicy).To(gomega.HaveValue(gomega.Equal(corev1.ContainerRestartPolicyAlways)))
				g.Expect(sc.Ports).To(gomega.Equal([]corev1.ContainerPort{{Name: "zmq-metrics", ContainerPort: 9917, Protocol: corev1.ProtocolTCP}}))
				g.Expect(sc.ReadinessProbe.HTTPGet.Path).To(gomega.Equal("/readyz"))
				g.Expect(sc.ReadinessProbe.HTTPGet.Port.StrVal).To(gomega.Equal("zmq-metrics"))
				g.Expect(sc.LivenessProbe.HTTPGet.Path).To(gomega.Equal("/healthz"))
				g.Expect(sc.Resources.Requests.Cpu().String()).To(gomega.Equal("10m"))
				g.Expect(sc.Resources.Requests.Memory().String()).To(gomega.Equal("16Mi"))
				g.Expect(sc.Resources.Limits.Memory().String()).To(gomega.Equal("64Mi"))
				g.Expect(*sc.SecurityContext.RunAsNonRoot).To(gomega.BeTrue())
				g.Expect(*sc.SecurityContext.ReadOnlyRootFilesystem).To(gomega.BeTrue())
				g.Expect(*sc.SecurityContext.AllowPrivilegeEscalation).To(gomega.BeFalse())
				g.Expect(sc.SecurityContext.Capabilities.Drop).To(gomega.Equal([]corev1.Capability{"ALL"}))
				g.Expect(sc.VolumeMounts).To(gomega.ContainElement(corev1.VolumeMount{Name: "zmq-topology", MountPath: "/etc/zmq", ReadOnly: true}))
			}
			for name, args := range want.args {
				g.Expect(pods[name].Spec.Containers[0].Args).To(gomega.Equal(args), name)
			}
			for name, image := range want.images {
				g.Expect(pods[name].Spec.Containers[0].Image).To(gomega.Equal(image), name)
			}

			// Status lists every component and link, none ready yet.
			z2 := eventuallyReady(ctx, g, client.ObjectKeyFromObject(z), metav1.ConditionFalse, zmqv1.ReasonComponentNotReady, "component "+z.Spec.Components[0].Name)
			g.Expect(z2.Status.Components).To(gomega.HaveLen(len(z.Spec.Components)))
			g.Expect(z2.Status.ComponentsReady).To(gomega.Equal(fmt.Sprintf("0/%d", len(z.Spec.Components))))
		})
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
