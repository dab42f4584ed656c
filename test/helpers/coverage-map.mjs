// Coverage is counted over the whole of src/ for every test file.
export default () => ['src/**/*.ts'];
