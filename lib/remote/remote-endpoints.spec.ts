import { describeEndpoint, queuePrefixOf } from './remote-endpoints';
import { toOutboxRow } from '../outbox/outbox.publisher';
import { toOutboundMessage } from '../outbox/outbox.relay';
import type { ClaimedOutboxRow } from '../outbox/outbox.store';
import { EnvelopeFactory } from '../message/envelope.factory';
import { encodeEnvelope } from '../message/cloudevents.codec';

const envelope = new EnvelopeFactory('orders').create('shipping.Ship', 1, { parcelId: 'p' });

/** The claimed row of what `toOutboxRow` stores. */
function stored(endpoint: string, endpointName?: string): ClaimedOutboxRow {
  const row = toOutboxRow({
    envelope,
    body: encodeEnvelope(envelope),
    destination: 'commands',
    endpoint,
    ...(endpointName !== undefined ? { endpointName } : {}),
  });
  return { ...row, id: '1', attempts: 0 } as unknown as ClaimedOutboxRow;
}

describe('remote.endpoints: queue prefixes of endpoints', () => {
  it('maps a listed endpoint and leaves the others (including Object.prototype names) as they are', () => {
    const map = { shipping: 'staging-shipping' };
    expect(queuePrefixOf(map, 'shipping')).toBe('staging-shipping');
    expect(queuePrefixOf(map, 'billing')).toBe('billing');
    expect(queuePrefixOf(map, 'constructor')).toBe('constructor');
    expect(describeEndpoint('shipping', 'staging-shipping')).toBe('"shipping" (queue prefix "staging-shipping")');
    expect(describeEndpoint('billing', 'billing')).toBe('"billing"');
  });

  it('stores the queue prefix decided in the caller’s transaction, and the relay publishes there as it is', () => {
    const row = stored('staging-shipping', 'shipping');
    expect(JSON.parse(row.headers)).toEqual({ endpoint: 'staging-shipping', endpointName: 'shipping' });
    // whatever the relaying instance's own remote.endpoints say (it takes none): no re-routing later
    expect(toOutboundMessage(row)).toMatchObject({ endpoint: 'staging-shipping', endpointName: 'shipping' });
    const unmapped = stored('shipping');
    expect(JSON.parse(unmapped.headers)).toEqual({ endpoint: 'shipping' });
    expect(toOutboundMessage(unmapped).endpoint).toBe('shipping');
    expect(toOutboundMessage(unmapped).endpointName).toBeUndefined();
  });
});
