{{/* Chart name, overridable with nameOverride. */}}
{{- define "gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart unless the release name already contains the chart name. */}}
{{- define "gateway.fullname" -}}
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

{{- define "gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gateway.labels" -}}
helm.sh/chart: {{ include "gateway.chart" . }}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; values.selectorLabels are merged in (as in the altinity-mcp chart). */}}
{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Values.selectorLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the Secret holding config.yaml: the user's existing one, or the one this chart renders. */}}
{{- define "gateway.configSecretName" -}}
{{- if .Values.configSecret.existingSecret }}
{{- .Values.configSecret.existingSecret }}
{{- else }}
{{- include "gateway.fullname" . }}
{{- end }}
{{- end }}

{{/* The container port: config.server.port as in the altinity-mcp chart, 8080 when the config lives elsewhere. */}}
{{- define "gateway.containerPort" -}}
{{- $server := (.Values.config | default dict).server | default dict }}
{{- $server.port | default 8080 }}
{{- end }}

{{/* Whether the listener speaks HTTPS (probes and the ServiceMonitor follow it). */}}
{{- define "gateway.tlsEnabled" -}}
{{- $server := (.Values.config | default dict).server | default dict }}
{{- $tls := $server.tls | default dict }}
{{- if $tls.enabled }}true{{ end }}
{{- end }}

{{- define "gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Prometheus selector shared by the alert rules: this release's scrape job in its namespace. */}}
{{- define "gateway.promSelector" -}}
job="{{ include "gateway.fullname" . }}",namespace="{{ .Release.Namespace }}"
{{- end }}

{{/* Probe timing fields present in a probes.* entry (Kubernetes defaults apply to absent ones). */}}
{{- define "gateway.probeTiming" -}}
{{- range $field := list "initialDelaySeconds" "periodSeconds" "timeoutSeconds" "failureThreshold" "successThreshold" }}
{{- if hasKey $ $field }}
{{ $field }}: {{ get $ $field }}
{{- end }}
{{- end }}
{{- end }}
