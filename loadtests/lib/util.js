// Small helpers, so the scripts need no remote k6 modules (the test machines are offline).
export const randomIntBetween = (min, max) => Math.floor(Math.random() * (max - min + 1)) + min
export const randomItem = (items) => items[Math.floor(Math.random() * items.length)]
export const uuidv4 = () =>
  "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0
    return (c === "x" ? r : (r & 0x3) | 0x8).toString(16)
  })
