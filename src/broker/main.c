/* tandem-broker entry point (being built). */
int main(void)
{
    return 0;
}
