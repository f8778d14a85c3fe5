#include <stdio.h>
int main(void) { puts("mlworker: under construction"); return 0; }
