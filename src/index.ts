import { buildApp } from "./app";
import { dispatchScheduled } from "./cron";
import { dispatchQueue } from "./queues";

export { ChatSession } from "./durable-objects/chat-session";
export { RateGovernor } from "./durable-objects/rate-governor";

const app = buildApp();

export default {
  fetch: app.fetch,
  scheduled: dispatchScheduled,
  queue: dispatchQueue,
} satisfies ExportedHandler<Env>;
