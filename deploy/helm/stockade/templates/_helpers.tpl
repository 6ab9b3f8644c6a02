{{/* The stockade image, by digest when one is given. */}}
{{- define "stockade.image" -}}
{{- if .Values.stockade.image.digest -}}
{{ .Values.stockade.image.repository }}@{{ .Values.stockade.image.digest }}
{{- else -}}
{{ .Values.stockade.image.repository }}:{{ .Values.stockade.image.tag }}
{{- end -}}
{{- end -}}

{{- define "stockade.socket" -}}
{{ .Values.stockade.socketDir }}/daemon/stockade.sock
{{- end -}}
