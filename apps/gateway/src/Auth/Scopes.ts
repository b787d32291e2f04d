import { Caller, InsufficientScope } from "@acme/contracts/gateway"
import { Effect } from "effect"

/** Succeeds when the caller's token carries `scope`; 403 otherwise. */
export const requireScope = (scope: string): Effect.Effect<void, InsufficientScope, Caller> =>
  Caller.use((caller) =>
    caller.scopes.has(scope)
      ? Effect.void
      : Effect.fail(
          new InsufficientScope({ requiredScope: scope, detail: `This operation needs the "${scope}" scope` })
        )
  )
