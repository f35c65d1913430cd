{{/* The chart's name. */}}
{{- define "zmq-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release name, with the chart's
name appended unless the release name contains it already. */}}
{{- define "zmq-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "zmq-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "zmq-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "zmq-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zmq-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{/* The selector labels as a k=v,... flag value (--operator-pod-selector). */}}
{{- define "zmq-operator.selectorLabelsFlag" -}}
{{- $out := list -}}
{{- range $k, $v := include "zmq-operator.selectorLabels" . | fromYaml }}
{{- $out = append $out (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," $out }}
{{- end }}

{{- define "zmq-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zmq-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* An image reference from registry, repository, tag (default: the
chart's appVersion) and digest (wins over the tag). Call with
(list $image $). */}}
{{- define "zmq-operator.image" -}}
{{- $img := index . 0 }}
{{- $root := index . 1 }}
{{- $repo := $img.repository }}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $img.repository }}{{ end }}
{{- if $img.digest }}
{{- printf "%s@%s" $repo $img.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default $root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "zmq-operator.webhookServiceName" -}}
{{ include "zmq-operator.fullname" . }}-webhook-service
{{- end }}
{{- define "zmq-operator.webhookSecretName" -}}
{{ include "zmq-operator.fullname" . }}-webhook-server-cert
{{- end }}
{{- define "zmq-operator.webhookConfigName" -}}
{{ include "zmq-operator.fullname" . }}-validating-webhook-configuration
{{- end }}

{{- define "zmq-operator.metricsPort" -}}
{{- if .Values.metrics.secure }}{{ .Values.metrics.port }}{{ else }}{{ .Values.metrics.insecurePort }}{{ end }}
{{- end }}
