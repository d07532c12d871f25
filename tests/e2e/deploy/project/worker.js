// The fixture project's worker: the three handlers its bindings need (fetch, the queue
// consumer, the Cron Trigger), doing nothing.
export default {
  async fetch() {
    return new Response('fixture\n');
  },
  async queue(batch) {
    batch.ackAll();
  },
  async scheduled() {},
};
