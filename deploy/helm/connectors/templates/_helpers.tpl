{{/* The image reference: repository@digest, else repository:tag (default appVersion). */}}
{{- define "connectors.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end }}

{{/* Labels of every object; `component` names the part (controller, proxy, ...). */}}
{{- define "connectors.labels" -}}
app.kubernetes.io/name: connectors-{{ .component }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: connectors
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
{{- end }}

{{- define "connectors.selectorLabels" -}}
app.kubernetes.io/name: connectors-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* Pod Security "restricted": non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp. */}}
{{- define "connectors.restrictedPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "connectors.restrictedContainerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment of every connectors container: the system namespace and the log level. */}}
{{- define "connectors.env" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: CONNECTORS_SYSTEM_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: CONNECTORS_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end }}

{{/*
A Deployment of one component. Arguments (a dict): root, component, values (the component's values),
args (the `connectors` arguments), ports (list of {name, containerPort}), healthPort, env (extra env
list), volumes and volumeMounts (extra), replicas (default values.replicas).
*/}}
{{- define "connectors.deployment" -}}
{{- $root := .root -}}
{{- $v := .values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: connectors-{{ .component }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
spec:
  {{- if not .noReplicas }}
  replicas: {{ .replicas | default $v.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "connectors.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "connectors.labels" . | nindent 8 }}
      {{- with (mergeOverwrite (dict) $root.Values.podAnnotations (.podAnnotations | default dict)) }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: connectors-{{ .component }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "connectors.restrictedPodSecurityContext" . | nindent 8 }}
      {{- with ($v.nodeSelector | default $root.Values.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($v.tolerations | default $root.Values.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      affinity:
        {{- if $v.affinity }}
        {{- toYaml $v.affinity | nindent 8 }}
        {{- else }}
        # Replicas on different nodes when the cluster has them.
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "connectors.selectorLabels" . | nindent 20 }}
        {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "connectors.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            {{- toYaml (concat .args ($v.extraArgs | default list)) | nindent 12 }}
          env:
            {{- include "connectors.env" $root | nindent 12 }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- toYaml .ports | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: health
            initialDelaySeconds: 10
            periodSeconds: 20
            timeoutSeconds: 5
          readinessProbe:
            httpGet:
              path: /readyz
              port: health
            periodSeconds: 10
            timeoutSeconds: 5
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "connectors.restrictedContainerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        # The only writable path: temp files and the compiled-Rego cache (XDG_CACHE_HOME=/tmp/.cache).
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end }}

{{/* A ServiceAccount of one component. */}}
{{- define "connectors.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: connectors-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
{{- end }}

{{/* ClusterRole + ClusterRoleBinding and Role + RoleBinding (system namespace) of one component. */}}
{{- define "connectors.rbac" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: connectors-{{ .component }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
rules:
  {{- toYaml .clusterRules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: connectors-{{ .component }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: connectors-{{ .component }}
subjects:
  - kind: ServiceAccount
    name: connectors-{{ .component }}
    namespace: {{ .root.Release.Namespace }}
{{- if .namespaceRules }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: connectors-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
rules:
  {{- toYaml .namespaceRules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: connectors-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: connectors-{{ .component }}
subjects:
  - kind: ServiceAccount
    name: connectors-{{ .component }}
    namespace: {{ .root.Release.Namespace }}
{{- end }}
{{- end }}

{{/* A PodDisruptionBudget of one component. */}}
{{- define "connectors.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: connectors-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "connectors.selectorLabels" . | nindent 6 }}
{{- end }}

{{/* A NetworkPolicy admitting only the listed TCP ports of one component's pods. */}}
{{- define "connectors.networkPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: connectors-{{ .component }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "connectors.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "connectors.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - ports:
        {{- range .ports }}
        - protocol: TCP
          port: {{ . }}
        {{- end }}
{{- end }}

{{/* The proxy address of the OCI classes under the expose choice; empty for ClusterIP. */}}
{{- define "connectors.exposedProxyAddress" -}}
{{- $e := .Values.proxy.expose -}}
{{- if eq $e.type "NodePort" -}}
http://{{ required "proxy.expose.domain is required with type NodePort (a node address kubelets reach)" $e.domain }}:{{ $e.nodePort.port }}
{{- else if eq $e.type "Ingress" -}}
{{ ternary "https" "http" (ne $e.ingress.tlsSecretName "") }}://{{ required "proxy.expose.domain is required with type Ingress" $e.domain }}
{{- else if ne $e.type "ClusterIP" -}}
{{- fail (printf "proxy.expose.type must be ClusterIP, NodePort or Ingress, not %q" $e.type) -}}
{{- end -}}
{{- end }}
