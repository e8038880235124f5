// The API's shapes, named as in /api/openapi.json (components.schemas), for
// `tsc --checkJs`. Nothing here runs.

/**
 * @typedef {{field: string, message: string}} FieldError
 * @typedef {{type: string, title: string, status: number, detail: string, errors?: FieldError[],
 *   checks?: ReadinessChecks, reasons?: Record<string, string>}} Problem
 * @typedef {{postgres: 'ok'|'down', rabbitmq: 'ok'|'down', consumerd: 'ok'|'down'|'unknown'}} ReadinessChecks
 * @typedef {{status: string, checks: ReadinessChecks}} Ready
 * @typedef {{access_token: string, token_type: string, expires_in: number}} LoginResponse
 * @typedef {'active'|'paused'|'deleting'} TenantStatus
 * @typedef {{
 *   id: string, name: string, status: TenantStatus, concurrency: number,
 *   queue_type: 'classic'|'quorum',
 *   created_at: string, updated_at: string,
 *   workers: {running: number, busy: number},
 *   queue_depth: number|null, dlq_depth: number,
 *   counters: {consumed: number, stored: number, failed: number, dead_lettered: number},
 *   publish_limit: {rate: number|null, burst: number|null},
 *   status_updated_at: string|null,
 *   consumer?: {id: string, hostname: string, pid: number}|null
 * }} Tenant
 * @typedef {{
 *   tenants: {total: number, active: number, paused: number, deleting: number},
 *   queue_depth: number, dlq_depth: number,
 *   workers: {configured: number, running: number, busy: number}
 * }} Overview
 * @typedef {{id: string, tenant_id: string, payload: unknown, headers: Record<string, string>,
 *   published_at: string, stored_at: string, attempts: number, trace_id: string|null}} Message
 * @typedef {{id: string, reason_code: string, reason: string, attempts: number,
 *   first_failed_at: string, last_failed_at: string, size: number, body_truncated: boolean,
 *   payload_preview: string, payload_truncated: boolean}} DeadLetter
 * @typedef {{token: string, jti: string, expires_at: string}} TokenIssued
 * @typedef {{jti: string, created_at: string, expires_at: string, revoked_at: string|null,
 *   created_by: string}} TokenInfo
 * @typedef {{seq: number, at: string, actor: string, action: string, target: string|null,
 *   request_id: string|null, address: string|null, detail: Record<string, unknown>}} AuditEntry
 * @typedef {{replayed: number, not_found?: string[]}} ReplayResult
 * @typedef {{fingerprint: string, status: 'firing'|'resolved', name: string, severity: string,
 *   summary: string, description: string, runbook_url: string|null, tenant: string|null,
 *   starts_at: string, ends_at: string|null, labels: Record<string, string>}} Alert
 */

/**
 * A keyset page.
 * @template T
 * @typedef {{data: T[], next_cursor: string|null}} Page
 */

/**
 * Who is logged in, read from the token's claims (for display and routing
 * only: the API decides what a token may do).
 * @typedef {{token: string, role: 'admin'|'tenant', sub: string, tenantId: string|null, exp: number}} Session
 */

export {};
