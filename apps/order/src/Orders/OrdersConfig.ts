/** The settings of placing and cancelling orders, read from the environment at start. */
import { Config, Duration } from "effect"
import { positiveDuration } from "../Settings.ts"

export const ordersConfig = Config.all({
  /** How long placing (and cancelling) an order waits for the saga's outcome before answering 202. */
  resultWait: positiveDuration("ORDER_RESULT_WAIT", Duration.seconds(2)),
  /** How often a waiting request reads the order, besides LISTEN/NOTIFY. */
  resultPoll: positiveDuration("ORDER_RESULT_POLL", Duration.millis(250)),
  /** How long after its confirmation a CONFIRMED order can still be cancelled (refunded, restocked). */
  cancellationWindow: positiveDuration("CANCELLATION_WINDOW", Duration.minutes(30))
})
