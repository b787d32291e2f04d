export { Checks, CheckStatus, HealthApi, NotReady } from "./Health.ts"
export { problemBase, problemFields, problemType } from "./Problem.ts"
