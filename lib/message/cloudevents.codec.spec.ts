import { checkContentType, decodeEnvelope, encodeEnvelope, MAX_JSON_DEPTH } from './cloudevents.codec';
import { MalformedMessageError } from '../errors/malformed-message.error';
import type { MessageEnvelope } from './envelope';

const envelope: MessageEnvelope = {
  id: '0193a1b2-0000-7000-8000-000000000001',
  type: 'OrderCreated',
  version: 2,
  time: '2026-11-27T10:00:00.000Z',
  source: 'orders',
  correlationId: 'corr-1',
  causationId: 'cause-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  partitionKey: 'order-1',
  headers: { tenant: 'acme' },
  data: { orderId: 'o-1', totalAmount: 42 },
};

describe('CloudEvents codec', () => {
  it('encodes the documented structured JSON and decodes it back', () => {
    const body = encodeEnvelope(envelope);
    expect(JSON.parse(body)).toEqual({
      specversion: '1.0',
      id: envelope.id,
      type: 'OrderCreated',
      source: 'orders',
      time: '2026-11-27T10:00:00.000Z',
      datacontenttype: 'application/json',
      dataversion: 2,
      correlationid: 'corr-1',
      causationid: 'cause-1',
      traceparent: envelope.traceparent,
      partitionkey: 'order-1',
      tenant: 'acme',
      data: { orderId: 'o-1', totalAmount: 42 },
    });
    expect(decodeEnvelope(body)).toEqual(envelope);
    expect(decodeEnvelope(Buffer.from(body))).toEqual(envelope);
  });

  it('accepts a minimal event from another producer, with defaults', () => {
    const e = decodeEnvelope('{"specversion":"1.0","id":"abc","type":"X","source":"go-service","data":{"a":1}}');
    expect(e).toMatchObject({ id: 'abc', type: 'X', version: 1, correlationId: 'abc', headers: {}, data: { a: 1 } });
    expect(e.causationId).toBeUndefined();
  });

  it.each([
    ['', /empty body/],
    ['not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{"specversion":"0.3","id":"a","type":"X","source":"s"}', /specversion/],
    ['{"specversion":"1.0","type":"X","source":"s"}', /"id"/],
    ['{"specversion":"1.0","id":"a","source":"s"}', /"type"/],
    ['{"specversion":"1.0","id":"a","type":"has space","source":"s"}', /"type"/],
    ['{"specversion":"1.0","id":"a","type":"X"}', /"source"/],
    ['{"specversion":"1.0","id":"a","type":"X","source":"s","datacontenttype":"text/xml"}', /datacontenttype/],
    ['{"specversion":"1.0","id":"a","type":"X","source":"s","dataversion":0}', /dataversion/],
    ['{"specversion":"1.0","id":"a","type":"X","source":"s","time":"yesterday"}', /time/],
    ['{"specversion":"1.0","id":"a","type":"X","source":"s","data":{"x":{"__proto__":{"p":1}}}}', /__proto__/],
    ['{"specversion":"1.0","id":"a","type":"X","source":"s","data":{"\\u005f_proto__":{"p":1}}}', /__proto__/],
    [
      `{"specversion":"1.0","id":"a","type":"X","source":"s","correlationid":"${'x'.repeat(10000)}\\r\\nInjected: 1"}`,
      /correlationid/,
    ],
  ])('refuses %s', (body, reason) => {
    let error: unknown;
    try {
      decodeEnvelope(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MalformedMessageError);
    expect((error as Error).message).toMatch(reason);
  });

  it('never quotes the body in the error (it could hold a secret)', () => {
    for (const body of ['card=4111111111111111', '{"a":"4111111111111111"', 'secret-token-abc']) {
      expect(() => decodeEnvelope(body)).toThrow(MalformedMessageError);
      try {
        decodeEnvelope(body);
      } catch (e) {
        expect((e as Error).message).not.toMatch(/4111|secret|card/);
      }
    }
  });

  it('drops an invalid traceparent instead of failing', () => {
    expect(
      decodeEnvelope('{"specversion":"1.0","id":"a","type":"X","source":"s","traceparent":"garbage"}').traceparent,
    ).toBeUndefined();
  });
});

describe('deeply nested input', () => {
  it('refuses __proto__ hidden deeper than 64 levels instead of missing it', () => {
    const deep = '{"a":'.repeat(80) + '{"__proto__":{"x":1}}' + '}'.repeat(80);
    expect(() => decodeEnvelope(`{"specversion":"1.0","id":"a","type":"X","source":"s","data":${deep}}`)).toThrow(
      MalformedMessageError,
    );
  });
});

describe('limits of the decoder (README "Limits"), each a MalformedMessageError with its reason', () => {
  const base = { specversion: '1.0', id: 'id-1', type: 'T', source: 's', data: {} };
  const decode = (event: object) => () => decodeEnvelope(JSON.stringify(event));

  it('body: valid UTF-8 only', () => {
    const text = JSON.stringify({ ...base, data: { name: 'x' } });
    const at = text.indexOf('"x"') + 2;
    const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3]), Buffer.from(text.slice(at))]);
    expect(() => decodeEnvelope(bytes)).toThrow('body is not valid UTF-8');
    expect(decodeEnvelope(Buffer.from(JSON.stringify({ ...base, data: { name: 'é✓' } }))).data).toEqual({ name: 'é✓' });
  });

  it(`nesting: at most ${MAX_JSON_DEPTH} levels of objects and arrays, in every body`, () => {
    const nested = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels)) as unknown;
    expect(() => decode({ ...base, data: nested(MAX_JSON_DEPTH - 1) })()).not.toThrow(); // + the event object
    expect(decode({ ...base, data: nested(MAX_JSON_DEPTH) })).toThrow(
      `JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
    // brackets inside strings do not count
    expect(() => decode({ ...base, data: { s: '['.repeat(500) } })()).not.toThrow();
  });

  it('extensions: at most 50, each value at most 4096 characters', () => {
    const ext = (n: number, length = 1) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`ext${i}`, 'v'.repeat(length)]));
    expect(() => decode({ ...base, ...ext(50) })()).not.toThrow();
    expect(decode({ ...base, ...ext(51) })).toThrow('more than 50 extension attributes');
    expect(decode({ ...base, ...ext(1, 4097) })).toThrow('extension attribute "ext0" is longer than 4096 characters');
  });

  it('identity attributes: id 1-200 printable ASCII, type up to 200, source up to 500, version 1-1,000,000', () => {
    expect(decode({ ...base, id: 'x'.repeat(201) })).toThrow(MalformedMessageError);
    expect(decode({ ...base, type: 'T'.repeat(201) })).toThrow('missing or invalid "type"');
    expect(decode({ ...base, source: 's'.repeat(501) })).toThrow('missing or invalid "source"');
    expect(decode({ ...base, dataversion: 1_000_001 })).toThrow('"dataversion" must be a positive integer');
  });

  it('content type: application/cloudevents+json or application/json (UTF-8), or none; no content encoding', () => {
    for (const ok of [
      undefined,
      '',
      'application/cloudevents+json',
      'application/json',
      'application/json; charset=utf-8',
    ]) {
      expect(() => checkContentType(ok)).not.toThrow();
    }
    expect(() => checkContentType('text/plain')).toThrow('content type "text/plain" is not accepted');
    expect(() => checkContentType('application/json; charset=latin1')).toThrow(MalformedMessageError);
    expect(() => checkContentType('application/cloudevents+json', 'gzip')).toThrow(
      'content encoding "gzip" is not supported',
    );
  });
});
