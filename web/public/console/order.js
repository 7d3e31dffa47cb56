// @ts-check
// The console's list order, which must be the server's: a row a live update moves has to land
// where the next page query would put it. Its own module so that `node --test` checks it
// (web/order.test.mjs, run by scripts/test.sh).

/** core's `priority_rank`: low 0 … urgent 3. */
const PRIORITY_RANK = { low: 0, normal: 1, high: 2, urgent: 3 };
/** core's `NOT_WAITING`: where a conversation nobody waits on sorts. */
const NOT_WAITING = Number.MAX_SAFE_INTEGER;

/**
 * core/src/inbox/query/sql.rs, `Sort::order_by`: priority = rank desc, then waiting since
 * asc, then name; waiting = waiting since asc, then name; activity = last message desc (0
 * without one), then name.
 * @param {string} sort "priority", "waiting" or "activity"
 * @param {{conversation: string, priority?: string, waiting_since?: number | null, last_message_at?: number | null}} a
 * @param {{conversation: string, priority?: string, waiting_since?: number | null, last_message_at?: number | null}} b
 * @returns {number}
 */
export function compareSummaries(sort, a, b) {
  const rank = (x) => PRIORITY_RANK[x.priority] ?? PRIORITY_RANK.normal;
  const waiting = (x) => x.waiting_since ?? NOT_WAITING;
  const lastAt = (x) => x.last_message_at ?? 0;
  const byName = a.conversation < b.conversation ? -1 : a.conversation > b.conversation ? 1 : 0;
  if (sort === "priority") return rank(b) - rank(a) || waiting(a) - waiting(b) || byName;
  if (sort === "waiting") return waiting(a) - waiting(b) || byName;
  return lastAt(b) - lastAt(a) || byName;
}
