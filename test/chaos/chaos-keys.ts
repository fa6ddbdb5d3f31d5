/* Which orders the chaos suite's processes treat specially, by order number (ids are `<prefix>-<n>`). */

const numberOf = (orderId: string) => Number(orderId.slice(orderId.lastIndexOf('-') + 1));

/** `billing` fails for these until healed: dead-lettered, then replayed. */
export const isPoison = (orderId: string) => numberOf(orderId) % 31 === 7;
/** `shipping` hangs on the first attempt of these (abandoned after its timeout). */
export const isHang = (orderId: string) => numberOf(orderId) % 37 === 11;
/** The producer rolls these back after publishing their event. */
export const isRollback = (orderId: string) => numberOf(orderId) % 13 === 5;
/** The producer's connection is terminated under these transactions before the publish. */
export const isConnectionLoss = (orderId: string) => numberOf(orderId) % 29 === 3;
/** The producer writes the event of these twice (two outbox rows, one message id). */
export const isDuplicate = (orderId: string) => numberOf(orderId) % 23 === 2;
