{{/* The release's full name: the release name, or "<release>-vmesh-hub" when it does not contain the chart name. */}}
{{- define "vmesh-hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vmesh-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vmesh-hub.labels" -}}
{{ include "vmesh-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vmesh-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vmesh-hub.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vmesh-hub.agentServiceHost" -}}
{{- printf "%s-agent.%s.svc" (include "vmesh-hub.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "vmesh-hub.apiServiceHost" -}}
{{- printf "%s-api.%s.svc" (include "vmesh-hub.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* The host agents dial: advertiseHost, else the agent Service's cluster DNS name. */}}
{{- define "vmesh-hub.advertiseHost" -}}
{{- default (include "vmesh-hub.agentServiceHost" .) .Values.advertiseHost -}}
{{- end -}}

{{- define "vmesh-hub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
