/* @name AddUsage */
-- Additive upsert: flushes from several instances add up, in any order.
INSERT INTO backend_usage (backend_name, period, api_requests, egress_bytes, ingress_bytes, updated_at)
VALUES (:backendName!, :period!, :apiRequests!, :egressBytes!, :ingressBytes!, :now!)
ON CONFLICT (backend_name, period) DO UPDATE
SET api_requests = backend_usage.api_requests + EXCLUDED.api_requests,
    egress_bytes = backend_usage.egress_bytes + EXCLUDED.egress_bytes,
    ingress_bytes = backend_usage.ingress_bytes + EXCLUDED.ingress_bytes,
    updated_at = EXCLUDED.updated_at;

/* @name GetUsageForPeriod */
SELECT backend_name, period, api_requests, egress_bytes, ingress_bytes, updated_at
FROM backend_usage
WHERE period = :period!
ORDER BY backend_name;
