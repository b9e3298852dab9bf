import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OutboxEvent } from '../store/core/types.js';

/** CloudEvents 1.0, structured JSON mode: what a webhook receiver gets for one outbox event. */
export interface CloudEvent {
  readonly specversion: '1.0';
  /** The outbox row's stable event_id: the same across redeliveries, so receivers deduplicate on it. */
  readonly id: string;
  readonly type: string;
  readonly source: string;
  /** The object key. */
  readonly subject: string | undefined;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: Readonly<Record<string, unknown>>;
}

export const CLOUD_EVENT_CONTENT_TYPE = 'application/cloudevents+json';
export const SIGNATURE_HEADER = 'X-Signature-256';

export function toCloudEvent(event: OutboxEvent, source: string): CloudEvent {
  const subject = event.payload.objectKey;
  return {
    specversion: '1.0',
    id: event.eventId,
    type: `s3orchestrator.${event.eventType}`,
    source,
    subject: typeof subject === 'string' ? subject : undefined,
    time: event.createdAt.toISOString(),
    datacontenttype: 'application/json',
    data: event.payload,
  };
}

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, as GitHub-style webhooks sign. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** For receivers (and tests): constant-time check of a signature header against the body. */
export function verifySignature(body: string, secret: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
