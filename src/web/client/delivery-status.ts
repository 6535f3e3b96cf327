/**
 * A message's delivery status only moves forward (sent → delivered → read). The page learns it from
 * two sources that race: the send's HTTP answer ("sent") and realtime frames, which can arrive
 * first now that delivery is fast; an older copy must not take a receipt back.
 */
export type DeliveryStatus = "sent" | "delivered" | "read";

const RANK: Record<DeliveryStatus, number> = { sent: 0, delivered: 1, read: 2 };

export function furtherStatus(a: DeliveryStatus, b: DeliveryStatus): DeliveryStatus {
  return RANK[b] > RANK[a] ? b : a;
}
