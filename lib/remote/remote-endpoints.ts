import { InvalidConfigurationError } from '../errors/invalid-configuration.error';

/** Letters, digits, `.`, `_`, `:`, `-`: a RabbitMQ queue prefix and a service name alike. */
export const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** `remote.endpoints` after checks: endpoint name (as routes give it) → queue prefix. */
export type EndpointPrefixes = Readonly<Record<string, string>>;

/**
 * The queue prefix of `endpoint`: its `remote.endpoints` entry, else the name itself (the
 * receiving service's `rabbitmq.queuePrefix`, else its `serviceName`).
 */
export function queuePrefixOf(prefixes: EndpointPrefixes, endpoint: string): string {
  return Object.prototype.hasOwnProperty.call(prefixes, endpoint) ? prefixes[endpoint] : endpoint;
}

/** An endpoint for errors and logs: `"shipping"`, or `"shipping" (queue prefix "staging-shipping")` when mapped. */
export function describeEndpoint(endpoint: string, queuePrefix: string | undefined): string {
  const name = JSON.stringify(endpoint);
  return queuePrefix === undefined || queuePrefix === endpoint
    ? name
    : `${name} (queue prefix ${JSON.stringify(queuePrefix)})`;
}

/** Checks `remote.endpoints`; throws `InvalidConfigurationError` naming the entry and what to fix. */
export function resolveEndpointPrefixes(value: unknown): EndpointPrefixes {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidConfigurationError(
      'remote.endpoints must be an object: { <endpoint>: "<queue prefix>" }, e.g. { shipping: "staging-shipping" }',
    );
  }
  const out: Record<string, string> = {};
  for (const [endpoint, prefix] of Object.entries(value)) {
    if (!ENDPOINT_NAME.test(endpoint)) {
      throw new InvalidConfigurationError(
        `remote.endpoints: endpoint ${JSON.stringify(endpoint)} must be 1-100 letters, digits, ".", "_", ":" or "-" ` +
          '(the name the routes give it)',
      );
    }
    if (typeof prefix !== 'string' || !ENDPOINT_NAME.test(prefix)) {
      throw new InvalidConfigurationError(
        `remote.endpoints.${endpoint} must be the queue prefix of that service (its rabbitmq.queuePrefix, else its ` +
          `serviceName): 1-100 letters, digits, ".", "_", ":" or "-", got ${JSON.stringify(prefix)}`,
      );
    }
    out[endpoint] = prefix;
  }
  return out;
}

/**
 * Parses `MESSAGING_REMOTE_ENDPOINTS`: `<endpoint>=<queue prefix>` pairs separated by commas,
 * e.g. `shipping=staging-shipping,billing=staging-billing`. Names are checked with the option.
 */
export function parseEndpointPrefixes(raw: string, variable: string): Record<string, string> {
  const out: Record<string, string> = {};
  const example = 'e.g. shipping=staging-shipping,billing=staging-billing';
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const parts = pair.split('=').map((p) => p.trim());
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new InvalidConfigurationError(
        `${variable} must be <endpoint>=<queue prefix> pairs separated by commas (${example}); ` +
          `${JSON.stringify(pair.trim())} is not one`,
      );
    }
    if (!ENDPOINT_NAME.test(parts[0])) {
      throw new InvalidConfigurationError(
        `${variable}: endpoint ${JSON.stringify(parts[0])} must be 1-100 letters, digits, ".", "_", ":" or "-"`,
      );
    }
    if (Object.prototype.hasOwnProperty.call(out, parts[0])) {
      throw new InvalidConfigurationError(`${variable} names endpoint ${JSON.stringify(parts[0])} twice`);
    }
    out[parts[0]] = parts[1];
  }
  return out;
}
