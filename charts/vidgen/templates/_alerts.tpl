{{/*
vidgen's alerting rules (the PrometheusRule's spec). tests/chart renders them and runs
`promtool test rules` on synthetic series, so what is tested is what is installed.
Every expression aggregates by namespace: two installations alert separately.
*/}}
{{- define "vidgen.alertGroups" -}}
{{- $r := .Values.monitoring.prometheusRule }}
{{- $extra := $r.alertLabels }}
groups:
  - name: vidgen
    rules:
      - alert: VidgenProviderBillingErrors
        # KIE.AI refuses tasks for billing reasons: the account's balance is gone.
        expr: sum by (namespace) (increase(vidgen_generation_errors_total{error_class="BILLING"}[10m])) > 0
        labels:
          severity: critical
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenproviderbillingerrors" $r.runbookUrl | quote }}
          summary: KIE.AI refuses video generations for billing reasons
          description: {{`'Generations failed with BILLING errors in the last 10 minutes in namespace {{ $labels.namespace }}: {{ $value | humanize }} (each one was refunded). Top up the KIE.AI account.'`}}
      - alert: VidgenProviderAccountRefused
        # A KIE.AI key was refused (401/402/433): its account left the rotation.
        expr: min by (namespace, account) (vidgen_provider_account_in_rotation) == 0
        labels:
          severity: critical
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenprovideraccountrefused" $r.runbookUrl | quote }}
          summary: A KIE.AI account was taken out of rotation
          description: {{`'The KIE.AI key of account {{ $labels.account }} in namespace {{ $labels.namespace }} was refused (bad key, no credits or a cap); admission no longer uses it. Fix the key or top up, then restart the operator.'`}}
      - alert: VidgenHighFailureRate
        expr: |
          (
            sum by (namespace) (increase(vidgen_generation_transitions_total{phase="Failed"}[{{ $r.failureRateWindow }}]))
            /
            sum by (namespace) (increase(vidgen_generation_transitions_total{phase=~"Delivered|Failed"}[{{ $r.failureRateWindow }}]))
          ) > {{ $r.failureRateThreshold }}
          and on (namespace)
          sum by (namespace) (increase(vidgen_generation_transitions_total{phase=~"Delivered|Failed"}[{{ $r.failureRateWindow }}])) >= {{ $r.failureRateMinFinished }}
        for: 10m
        labels:
          severity: warning
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenhighfailurerate" $r.runbookUrl | quote }}
          summary: Many video generations fail
          description: {{ printf "'{{ $value | humanizePercentage }} of the generations finished in the last %s in namespace {{ $labels.namespace }} failed (threshold %v). See the errors by class on the vidgen dashboard and kubectl get vg.'" $r.failureRateWindow $r.failureRateThreshold }}
      - alert: VidgenQueueStuck
        # Work is queued but the operator has admitted nothing for queueStuckMinutes.
        expr: |
          max by (namespace) (vidgen_queue_depth) > 0
          and on (namespace)
          sum by (namespace) (increase(vidgen_admissions_total[{{ $r.queueStuckMinutes }}m])) == 0
        for: 2m
        labels:
          severity: critical
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenqueuestuck" $r.runbookUrl | quote }}
          summary: Video generations are queued but none is admitted
          description: {{ printf "'Generations queued in namespace {{ $labels.namespace }}: {{ $value }}; none was admitted in %d minutes. Check the operator (logs, kubectl get vg, running Jobs against the concurrency limit).'" (int $r.queueStuckMinutes) }}
      - alert: VidgenDeliveryFailures
        # Videos were made but could not be sent to Telegram.
        expr: sum by (namespace) (increase(vidgen_delivery_failures_total[15m])) > {{ $r.deliveryFailuresThreshold }}
        labels:
          severity: warning
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgendeliveryfailures" $r.runbookUrl | quote }}
          summary: Videos cannot be delivered to Telegram
          description: {{`'Failed delivery tries in the last 15 minutes in namespace {{ $labels.namespace }}: {{ $value | humanize }}. Check the bot token and Telegram availability.'`}}
      - alert: VidgenOperatorDown
        # No operator is scraped, or every scraped replica is down.
        expr: |
          absent(up{job=~".*vidgen-operator.*"})
          or
          sum by (namespace, job) (up{job=~".*vidgen-operator.*"}) == 0
        for: {{ $r.operatorDownMinutes }}m
        labels:
          severity: critical
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenoperatordown" $r.runbookUrl | quote }}
          summary: The vidgen operator is down
          description: {{ printf "'No vidgen operator has answered a scrape for %d minutes: nothing is admitted, delivered or refunded.'" (int $r.operatorDownMinutes) }}
      - alert: VidgenAdmissionStopped
        # The operator runs (it is scraped) but its admission loop has stopped: work is queued and
        # no admission pass has completed for admissionStoppedMinutes.
        expr: |
          (time() - max by (namespace) (vidgen_last_admission_timestamp_seconds)) > {{ mul (int $r.admissionStoppedMinutes) 60 }}
          and on (namespace)
          max by (namespace) (vidgen_queue_depth) > 0
        for: 1m
        labels:
          severity: critical
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenadmissionstopped" $r.runbookUrl | quote }}
          summary: The operator's admission loop has stopped
          description: {{ printf "'No admission pass for %d minutes in namespace {{ $labels.namespace }} while generations are queued: nothing new starts. Check the operator logs and restart it.'" (int $r.admissionStoppedMinutes) }}
      - alert: VidgenRefundsSpike
        expr: sum by (namespace) (increase(vidgen_refunds_total[30m])) > {{ $r.refundsThreshold }}
        labels:
          severity: warning
          {{- with $extra }}
          {{- toYaml . | nindent 10 }}
          {{- end }}
        annotations:
          runbook_url: {{ printf "%s#vidgenrefundsspike" $r.runbookUrl | quote }}
          summary: Many credits are being refunded
          description: {{ printf "'Generations refunded in the last 30 minutes in namespace {{ $labels.namespace }}: {{ $value | humanize }} (threshold %v). See the refunds by error class on the vidgen dashboard.'" $r.refundsThreshold }}
{{- end }}
