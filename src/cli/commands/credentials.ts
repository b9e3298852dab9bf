import type { Command } from 'commander';
import { provisionCredentials } from '../../gateway/default-credential.js';
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';

/**
 * Prints the credential a client needs for the S3 endpoint, with snippets to paste. This is the one
 * place a secret is printed on purpose, and only the generated (or environment) one: secrets written
 * in the config file are the operator's and are not echoed back.
 */
export function registerCredentials(program: Command, run: (cmd: Command, fn: (ctx: CommandContext) => Promise<void>) => Promise<void>): void {
  program
    .command('credentials')
    .description('print the S3 endpoint\'s credentials with AWS CLI and rclone snippets (generates the default one if needed)')
    .option('--shell', 'print only `export AWS_...` lines, for eval "$(s3-orchestrator credentials --shell)"')
    .action((opts: { shell?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { config } = ctx.config();
        const provisioned = await provisionCredentials(config, ctx.io.env);
        const endpoint = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${config.server.port}`;
        const region = config.server.region;
        if (provisioned.origin === 'config') {
          const rows = provisioned.credentials.map((c) => [c.accessKeyId, c.permission, c.buckets === '*' ? '*' : c.buckets.join(', ')]);
          if (ctx.options.json) {
            ctx.out.printJson({ endpoint, region, origin: 'config', credentials: rows.map(([id, permission, buckets]) => ({ accessKeyId: id, permission, buckets })) });
            return;
          }
          ctx.out.line(`endpoint: ${endpoint}  (region ${region})`);
          if (opts.shell) throw new UsageError('--shell prints the generated or environment credential; this config declares its own credentials (their secrets are in the config file)');
          ctx.out.line('the credentials come from the config file (their secrets are there):');
          ctx.out.table(['ACCESS KEY ID', 'PERMISSION', 'BUCKETS'], rows);
          return;
        }
        const credential = provisioned.credentials[0]!;
        const id = credential.accessKeyId;
        const secret = credential.secretAccessKey.reveal();
        if (opts.shell) {
          ctx.out.line(`export AWS_ACCESS_KEY_ID=${shellQuote(id)} AWS_SECRET_ACCESS_KEY=${shellQuote(secret)} AWS_DEFAULT_REGION=${shellQuote(region)}`);
          return;
        }
        if (ctx.options.json) {
          ctx.out.printJson({ endpoint, region, origin: provisioned.origin, file: provisioned.file, accessKeyId: id, secretAccessKey: secret });
          return;
        }
        ctx.out.line(`endpoint:          ${endpoint}`);
        ctx.out.line(`access key id:     ${id}`);
        ctx.out.line(`secret access key: ${secret}`);
        ctx.out.line(provisioned.file ? `kept in:           ${provisioned.file}` : 'from:              S3O_ACCESS_KEY_ID / S3O_SECRET_ACCESS_KEY');
        ctx.out.line();
        ctx.out.line('AWS CLI:');
        ctx.out.line(`  export AWS_ACCESS_KEY_ID=${id} AWS_SECRET_ACCESS_KEY=${secret} AWS_DEFAULT_REGION=${region}`);
        ctx.out.line(`  aws --endpoint-url ${endpoint} s3 mb s3://my-bucket`);
        ctx.out.line(`  aws --endpoint-url ${endpoint} s3 cp ./file.txt s3://my-bucket/`);
        ctx.out.line();
        ctx.out.line('rclone (add to ~/.config/rclone/rclone.conf, then: rclone lsd s3o:):');
        for (const line of ['[s3o]', 'type = s3', 'provider = Other', `access_key_id = ${id}`, `secret_access_key = ${secret}`, `endpoint = ${endpoint}`, `region = ${region}`]) {
          ctx.out.line(`  ${line}`);
        }
      }),
    );
}

/** Single quotes keep every character literal in POSIX shells. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_.\/:-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}
