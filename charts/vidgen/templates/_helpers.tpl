{{/* Chart name, truncated to a DNS label. */}}
{{- define "vidgen.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object-name prefix: "<release>-vidgen", or the release name when it contains the chart name. */}}
{{- define "vidgen.fullname" -}}
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

{{/* "<fullname>-<component>", e.g. include "vidgen.component" (list . "operator"). */}}
{{- define "vidgen.component" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "vidgen.fullname" $root | trunc 50 | trimSuffix "-") (index . 1) }}
{{- end }}

{{- define "vidgen.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object; include "vidgen.labels" (list . "operator"). */}}
{{- define "vidgen.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "vidgen.chart" $root }}
{{ include "vidgen.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: vidgen
{{- with $root.Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels; include "vidgen.selectorLabels" (list . "operator"). */}}
{{- define "vidgen.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "vidgen.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* A vidgen image: include "vidgen.image" (list . .Values.operator.image). */}}
{{- define "vidgen.image" -}}
{{- $root := index . 0 }}
{{- printf "%s/%s:%s" ($root.Values.image.registry | trimSuffix "/") (index . 1) (default $root.Chart.AppVersion $root.Values.image.tag) }}
{{- end }}

{{- define "vidgen.operatorServiceAccount" -}}{{ include "vidgen.component" (list . "operator") }}{{- end }}
{{- define "vidgen.botServiceAccount" -}}{{ include "vidgen.component" (list . "bot") }}{{- end }}
{{- define "vidgen.runnerServiceAccount" -}}{{ include "vidgen.component" (list . "runner") }}{{- end }}

{{/* Names of the Secrets this chart creates. */}}
{{- define "vidgen.secretName" -}}{{ include "vidgen.component" (list . "secrets") }}{{- end }}
{{- define "vidgen.runnerSecretName" -}}
{{- default (include "vidgen.component" (list . "runner")) .Values.secrets.runnerExistingSecret }}
{{- end }}
{{/* The in-chart PostgreSQL's password: postgresql.existingSecret, else the chart's Secret made from postgresql.password. */}}
{{- define "vidgen.databaseSecretName" -}}
{{- default (include "vidgen.component" (list . "database")) .Values.postgresql.existingSecret }}
{{- end }}
{{- define "vidgen.databasePasswordKey" -}}
{{- ternary .Values.postgresql.passwordKey "postgres-password" (ne .Values.postgresql.existingSecret "") }}
{{- end }}
{{- define "vidgen.configName" -}}{{ include "vidgen.component" (list . "config") }}{{- end }}
{{- define "vidgen.storageClaimName" -}}
{{- default (include "vidgen.component" (list . "storage")) .Values.storage.persistence.existingClaim }}
{{- end }}

{{/* Whether storage is a volume shared by the pods (file:// URL with persistence on). */}}
{{- define "vidgen.storageVolume" -}}
{{- if and (hasPrefix "file://" .Values.storage.url) .Values.storage.persistence.enabled }}true{{ end }}
{{- end }}

{{/* Name of the KopfPeering object (replicas > 1). */}}
{{- define "vidgen.peeringName" -}}{{ include "vidgen.component" (list . "operator") }}{{- end }}

{{/*
Reuse a generated secret value across upgrades: the value from the live Secret if there is one
(lookup), else a new random one. include "vidgen.keepRandom" (list . secretName key length).
*/}}
{{- define "vidgen.keepRandom" -}}
{{- $root := index . 0 }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (index . 1) }}
{{- if and $existing (hasKey ($existing.data | default dict) (index . 2)) }}
{{- index $existing.data (index . 2) | b64dec }}
{{- else }}
{{- randAlphaNum (index . 3) }}
{{- end }}
{{- end }}

{{/* Environment of the operator and the bot: settings, secrets, pod identity. */}}
{{- define "vidgen.commonEnv" -}}
- name: VIDGEN_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if .Values.postgresql.enabled }}
{{- $pg := .Values.postgresql }}
# The password from its Secret; the URL is made by the kubelet ($(VAR) expansion), so no
# Secret holds a URL that could drift from the password.
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "vidgen.databaseSecretName" . }}
      key: {{ include "vidgen.databasePasswordKey" . }}
- name: VIDGEN_DATABASE_URL
  value: {{ printf "postgresql+psycopg://%s:$(POSTGRES_PASSWORD)@%s:5432/%s" $pg.username (include "vidgen.component" (list . "postgresql")) $pg.database | quote }}
{{- else }}
- name: VIDGEN_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.externalDatabase.existingSecret }}
      name: {{ .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.urlKey }}
      {{- else }}
      name: {{ include "vidgen.secretName" . }}
      key: database-url
      {{- end }}
{{- end }}
- name: VIDGEN_TELEGRAM_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ default (include "vidgen.secretName" .) .Values.secrets.telegram.existingSecret }}
      key: {{ ternary .Values.secrets.telegram.tokenKey "telegram-token" (ne .Values.secrets.telegram.existingSecret "") }}
{{- include "vidgen.s3Env" . }}
{{- include "vidgen.apiServerEnv" . }}
{{- end }}

{{/* S3 credentials (only for s3:// storage). */}}
{{- define "vidgen.s3Env" -}}
{{- if hasPrefix "s3://" .Values.storage.url }}
{{- $s3 := .Values.storage.s3 }}
{{- if or $s3.existingSecret $s3.accessKeyId }}
- name: VIDGEN_S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ default (include "vidgen.secretName" .) $s3.existingSecret }}
      key: {{ ternary $s3.accessKeyIdKey "s3-access-key-id" (ne $s3.existingSecret "") }}
- name: VIDGEN_S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ default (include "vidgen.secretName" .) $s3.existingSecret }}
      key: {{ ternary $s3.secretAccessKeyKey "s3-secret-access-key" (ne $s3.existingSecret "") }}
{{- end }}
{{- end }}
{{- end }}

{{/* Volumes every vidgen pod mounts: a writable /tmp, and the storage volume. */}}
{{- define "vidgen.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if include "vidgen.storageVolume" . }}
- name: storage
  persistentVolumeClaim:
    claimName: {{ include "vidgen.storageClaimName" . }}
{{- end }}
{{- end }}

{{- define "vidgen.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "vidgen.storageVolume" . }}
- name: storage
  mountPath: {{ .Values.storage.persistence.mountPath }}
{{- end }}
{{- end }}

{{/* `vidgen migrate` init container for the operator and the bot. */}}
{{- define "vidgen.migrateInitContainer" -}}
{{- $root := index . 0 }}
{{- if $root.Values.migrations.enabled }}
initContainers:
  - name: migrate
    image: {{ include "vidgen.image" (list $root (index . 1)) }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args: ["migrate"]
    env:
      {{- include "vidgen.commonEnv" $root | nindent 6 }}
    envFrom:
      - configMapRef:
          name: {{ include "vidgen.configName" $root }}
    securityContext:
      {{- toYaml $root.Values.containerSecurityContext | nindent 6 }}
    resources:
      requests:
        cpu: 10m
        memory: 64Mi
      limits:
        memory: 256Mi
    volumeMounts:
      - name: tmp
        mountPath: /tmp
{{- end }}
{{- end }}

{{- define "vidgen.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* hostNetwork (value hostNetwork.enabled) for the operator, the bot and the runner Jobs. */}}
{{- define "vidgen.hostNetwork" -}}
{{- if .Values.hostNetwork.enabled }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
{{- end }}

{{/* The API server's address for pods on the node's network (hostNetwork.apiServer*). */}}
{{- define "vidgen.apiServerEnv" -}}
{{- if .Values.hostNetwork.enabled }}
{{- with .Values.hostNetwork.apiServerHost }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ . | quote }}
{{- end }}
{{- with .Values.hostNetwork.apiServerPort }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
