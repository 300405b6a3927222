// A private git server for trying Connectors by hand (the README walkthrough): the same real
// `git http-backend` behind apache with basic auth that the tests use, with one repository, running until
// Ctrl-C. Usage: node test/support/peers/serve-git.ts [USER] [PASSWORD]
import { startGitServer } from './git-server.ts';
import { ensureSystemPackages } from './system-packages.ts';

const [user = 'demo', password = 'demo-password'] = process.argv.slice(2);
await ensureSystemPackages(['git', 'apache2', 'apache2-utils']);
const server = await startGitServer({ users: { [user]: password } });
const repo = await server.createRepo('your-org/your-repo.git', {
  files: { 'README.md': '# Cloned through the Connectors proxy\n' },
});
process.stdout.write(
  [
    `git server:  ${server.url}  (basic auth: ${user} / ${password})`,
    `repository:  ${repo.url}`,
    'Stop with Ctrl-C.',
    '',
  ].join('\n'),
);
const keepAlive = setInterval(() => {}, 1 << 30);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearInterval(keepAlive);
    void server.stop().then(() => process.exit(0));
  });
}
