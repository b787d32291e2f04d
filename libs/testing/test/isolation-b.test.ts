import { isolationSuite } from "./isolation.ts"

isolationSuite("b")
