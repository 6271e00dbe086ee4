/** Integration test set-up: nothing shared yet (databases are started per test file). */
export default async function globalSetup(): Promise<void> {}
