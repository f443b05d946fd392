// Stores for the customer-service tests (order lookup, product assets): a TikTok Shop connection made
// through the API and registered with the fake, and a store's orders pulled into Tradewind as the engine does.
import { bearer } from "./auth";
import { call, envelope, ownerSql } from "./harness";
import { CONNECTIONS, type Connection, randomHex } from "./hub";
import { simulatedQueues } from "./sync";
import { randomTikTokShopId, tiktokFake } from "./webhooks";

/** A TikTok Shop connection through the API, registered with the fake under the same credentials. */
export async function createTikTokStore(
  token: string,
  displayName: string,
): Promise<{ connection: Connection; shopId: string }> {
  const shopId = randomTikTokShopId();
  const credentials = {
    appKey: `6${randomHex(6)}`,
    appSecret: randomHex(20),
    accessToken: `ROW_${randomHex(24)}`,
    shopCipher: `ROW_${randomHex(16)}`,
  };
  const response = await call(
    CONNECTIONS,
    bearer(token, {
      method: "POST",
      body: { provider: "tiktok", account: shopId, displayName, credentials },
    }),
  );
  const created = await envelope<Connection>(response);
  if (response.status !== 201 || !created.data) {
    throw new Error(`TikTok connection: ${response.status} ${JSON.stringify(created)}`);
  }
  await tiktokFake.registerShop({
    shopId,
    appKey: credentials.appKey,
    appSecret: credentials.appSecret,
    accessToken: credentials.accessToken,
    cipher: credentials.shopCipher,
  });
  return { connection: created.data, shopId };
}

/** Pulls a store's orders into Tradewind (a channel-pull message through the Worker's consumer); oldest first. */
export async function pullStoreOrders(
  tenantId: string,
  connectionId: string,
): Promise<{ id: string; external_id: string }[]> {
  const queues = simulatedQueues(tenantId);
  await queues.send("channel-pull", {
    type: "stream.run",
    tenantId,
    connectionId,
    resource: "orders",
    trigger: "manual",
  });
  await queues.drain();
  return (await ownerSql()`
    select id, external_id from orders where tenant_id = ${tenantId} and connection_id = ${connectionId}
     order by placed_at, external_id`) as unknown as { id: string; external_id: string }[];
}
