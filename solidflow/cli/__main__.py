from solidflow.cli import main

main(prog_name="solidflow")
