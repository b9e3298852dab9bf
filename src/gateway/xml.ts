import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.js';

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: false, processEntities: true });

/** A value of an XML response: nested objects become elements, arrays repeat the element. */
export type XmlValue = string | number | boolean | Date | undefined | XmlObject | readonly XmlValue[];
export interface XmlObject {
  readonly [name: string]: XmlValue;
}

/**
 * An S3 response document: declaration, root element in the S3 namespace, except <Error>: S3's error
 * documents have none, and botocore (awscli, boto3) only reads the code of a root tagged exactly `Error`.
 */
export function xmlDocument(root: string, body: XmlObject | string): string {
  const content = typeof body === 'string' ? body : root === 'Error' ? normalise(body) : { '@xmlns': S3_NAMESPACE, ...normalise(body) };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: typeof content === 'string' ? { '#text': content, '@xmlns': S3_NAMESPACE } : content }) as string}`;
}

/** Dates as S3 writes them in XML (ISO 8601 with milliseconds, UTC). */
function normalise(value: XmlObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[name] = normaliseValue(v);
  }
  return out;
}

function normaliseValue(v: XmlValue): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map((item: XmlValue) => normaliseValue(item));
  if (typeof v === 'object' && v !== null) return normalise(v as XmlObject);
  return v;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  removeNSPrefix: true,
  processEntities: true,
  // Character references (&#34;): Go's encoding/xml (rclone, aws-sdk-go) writes the ETag's quotes so.
  htmlEntities: true,
  isArray: (name) => name === 'Part' || name === 'Object',
});

/** Parses a request body; anything that is not well-formed XML with the expected root is MalformedXML. */
export function parseXmlBody(text: string, root: string): Record<string, unknown> {
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  const doc = parser.parse(text) as Record<string, unknown>;
  const value = doc[root];
  if (value === undefined) throw new S3Error('MalformedXML', `The XML you provided was not well-formed or did not validate against our published schema: expected a <${root}> element.`);
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}
