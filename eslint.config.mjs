// ESLint (typescript-eslint's recommended rules) for every TypeScript file;
// formatting is Prettier's job (npm run lint runs both, zero warnings).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "toolchain/**", ".pulumi-state/**", ".pulumi-home/**", "dist/**", "bench/runs/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      // Provider code runs in Pulumi's dynamic-provider host, which serializes
      // functions: node built-ins are required inside them on purpose.
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      "no-console": "off",
    },
  },
  {
    // Tests read untyped JSON (REST API answers, stack outputs).
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
