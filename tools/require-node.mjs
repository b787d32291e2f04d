// Stops `npm install`, `npm start` and `npm test` with one line when this Node is too old for
// the workspace (type stripping, `node:sqlite`-era APIs and the pinned tools need 22.19+).
// Plain JavaScript on purpose: it must run on the old Node it is there to reject.
import { readFileSync } from "node:fs"

const wanted = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).engines.node
const [major, minor] = wanted
  .replace(/^>=\s*/, "")
  .split(".")
  .map(Number)
const [haveMajor, haveMinor] = process.versions.node.split(".").map(Number)
if (haveMajor < major || (haveMajor === major && haveMinor < minor)) {
  console.error(
    `This workspace needs Node ${wanted} and found ${process.version} (${process.execPath}): ` +
      `install Node 24 (the version in .nvmrc), e.g. \`nvm install\` or https://nodejs.org, then run this again.`
  )
  process.exit(1)
}
