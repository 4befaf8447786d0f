// Plain JavaScript on purpose: it must run on the old Node it refuses. jobql runs its TypeScript
// directly (type stripping), which needs Node 22.18 or newer; older ones fail with
// ERR_UNKNOWN_FILE_EXTENSION, which does not say what to do.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `jobql needs Node.js 22.18 or newer (24 LTS recommended); this is Node ${process.versions.node}.\n` +
      'Install a newer Node (https://nodejs.org, or your version manager: nvm install 24) and run the command again.',
  );
  process.exit(1);
}
